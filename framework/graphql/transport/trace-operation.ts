import { context as contexts, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { FastifyRequest } from 'fastify'
import { Kind, type DocumentNode, type ExecutionResult } from 'graphql'
import { spanAttributes, tracer, tracingEnabled } from '../../tracing/tracer.ts'
import type { GatewayContext } from './gateway-context.ts'

/**
 * Starts the span of a GraphQL operation (`graphql mutation`, …), a child of the trace context the client
 * sent in its headers (whatever propagator the application registered), and keeps it on the operation's
 * context for the resolvers to run their work in.
 */
export function startOperationSpan(
  document: DocumentNode,
  context: GatewayContext,
  request: FastifyRequest | undefined,
): void {
  if (!tracingEnabled()) return
  const operation = document.definitions.find((definition) => definition.kind === Kind.OPERATION_DEFINITION)
  const type = operation?.operation ?? 'query'
  const parent =
    request === undefined ? contexts.active() : propagation.extract(contexts.active(), request.headers)
  const span = tracer.startSpan(`graphql ${type}`, { kind: SpanKind.SERVER }, parent)
  if (!span.isRecording()) return
  span.setAttribute(spanAttributes.operation, type)
  const name = operation?.name?.value
  if (name !== undefined) span.setAttribute(spanAttributes.operationName, name)
  context.trace = { span, context: trace.setSpan(parent, span) }
}

/** Ends the operation's span, in error when the execution answered with errors. */
export function endOperationSpan(execution: ExecutionResult, context: GatewayContext): void {
  const traced = context.trace
  if (traced === undefined) return
  context.trace = undefined
  const code = (execution.errors?.[0]?.extensions as { code?: unknown } | undefined)?.code
  if (execution.errors?.length) {
    traced.span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'ERROR' })
  }
  traced.span.end()
}
