import { context as contexts, isSpanContextValid, trace } from '@opentelemetry/api'

/**
 * The trace and span ids of the span active where a log line is written, for pino's `mixin`: a line
 * written while a traced request or command runs names its trace. Nothing without an SDK.
 *
 * @example
 * createServer({ logger: { level: 'info', mixin: traceLogFields } })
 */
export function traceLogFields(): Record<string, string> {
  const spanContext = trace.getSpanContext(contexts.active())
  // A new object each time: pino merges the line's own fields into it.
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return {}
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId }
}
