import {
  context as contexts,
  isSpanContextValid,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api'
import { isAnnalsError } from '../errors.ts'
import { spanAttributes, tracer, tracingEnabled } from '../tracing/tracer.ts'
import type { CommandResult } from './command-bus.ts'
import type { ValidCommand } from './validate-command.ts'

export interface TraceCommandOptions {
  /** SERVER on the owner of a forwarded command, INTERNAL where a command enters. */
  readonly kind?: SpanKind
  /** The replica that forwarded the command here. */
  readonly forwardedFrom?: string
}

/**
 * Runs a command inside its span (`command <Aggregate>.<command>`, a child of `parent`), the command
 * carrying the span's context so its append and its events link to it. Without an SDK, and without a
 * traced parent, it runs the command as it is: no span, no copy, no promise.
 */
export function traceCommand(
  command: ValidCommand,
  parent: Context,
  run: (command: ValidCommand) => Promise<CommandResult>,
  options: TraceCommandOptions = {},
): Promise<CommandResult> {
  if (!tracingEnabled()) return run(command)
  const span = tracer.startSpan(
    `command ${command.aggregate.name}.${command.command}`,
    { kind: options.kind ?? SpanKind.INTERNAL },
    parent,
  )
  if (!isSpanContextValid(span.spanContext())) return run(command)
  const traced: ValidCommand = { ...command, trace: trace.setSpan(parent, span) }
  if (!span.isRecording()) return contexts.with(traced.trace!, run, undefined, traced)
  span.setAttribute(spanAttributes.aggregate, command.aggregate.name)
  span.setAttribute(spanAttributes.aggregateId, command.aggregateId)
  span.setAttribute(spanAttributes.command, command.command)
  span.setAttribute(spanAttributes.commandId, command.commandId)
  if (options.forwardedFrom !== undefined)
    span.setAttribute(spanAttributes.forwardedFrom, options.forwardedFrom)
  return contexts.with(traced.trace!, run, undefined, traced).then(
    (result) => {
      span.setAttribute(spanAttributes.revision, String(result.revision))
      span.end()
      return result
    },
    (error: unknown) => {
      endFailed(span, error)
      throw error
    },
  )
}

/** Ends a span that failed, with the error's code as its status (no message: it may carry input). */
export function endFailed(span: Span, error: unknown): void {
  const code = isAnnalsError(error) ? error.code : 'INTERNAL'
  span.setStatus({ code: SpanStatusCode.ERROR, message: code })
  span.end()
}
