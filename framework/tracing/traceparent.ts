import {
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Context,
  type SpanContext,
} from '@opentelemetry/api'

/** The metadata key of an event that holds the W3C traceparent of the command that appended it. */
export const TRACEPARENT_KEY = 'traceparent'

const PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * A span context as a W3C traceparent (`00-<trace id>-<span id>-<flags>`), or undefined for an invalid one
 * (no SDK registered). Written by hand rather than through the global propagator: events outlive the
 * process, so what they carry must be W3C whatever propagator the application registered.
 */
export function formatTraceparent(spanContext: SpanContext): string | undefined {
  if (!isSpanContextValid(spanContext)) return undefined
  const flags = spanContext.traceFlags & 1 ? '01' : '00'
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`
}

/** The traceparent of the span active in a context, if it has a valid one. */
export function traceparentOf(context: Context): string | undefined {
  const spanContext = trace.getSpanContext(context)
  return spanContext === undefined ? undefined : formatTraceparent(spanContext)
}

/**
 * A context whose remote parent is the span a traceparent names; the root context for anything else
 * (absent, malformed, or a version this reads no further than), so a bad value only loses the link.
 */
export function contextFromTraceparent(value: unknown): Context {
  if (typeof value !== 'string') return ROOT_CONTEXT
  const match = PATTERN.exec(value)
  if (match === null) return ROOT_CONTEXT
  const spanContext: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  }
  return isSpanContextValid(spanContext) ? trace.setSpanContext(ROOT_CONTEXT, spanContext) : ROOT_CONTEXT
}
