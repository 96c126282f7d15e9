import { context as contexts, isSpanContextValid, trace } from '@opentelemetry/api'

const none = Object.freeze({})

/**
 * The trace and span ids of the span active where a log line is written, for pino's `mixin`: a line
 * written while a traced request or command runs names its trace. Nothing without an SDK.
 *
 * @example
 * createServer({ logger: { level: 'info', mixin: traceLogFields } })
 */
export function traceLogFields(): Readonly<Record<string, string>> {
  const spanContext = trace.getSpanContext(contexts.active())
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return none
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId }
}
