import { SpanKind, trace, type Context, type Span } from '@opentelemetry/api'
import type { RecordedEvent } from '../event-store/event-store.ts'
import { contextFromTraceparent, TRACEPARENT_KEY } from './traceparent.ts'
import { spanAttributes, tracer, tracingEnabled } from './tracer.ts'

/** A span an event caused, and the context to run its work in (the span active in it). */
export interface EventSpan {
  readonly span: Span
  readonly context: Context
}

/**
 * Starts the span of work an event caused (a projection's fold, a reactor's reaction, a subscription
 * frame): a child of the command that appended the event, read from the traceparent in its metadata, on
 * whichever replica and however long after. Undefined without an SDK or when the span does not record, so
 * the caller allocates nothing for attributes.
 */
export function startEventSpan(name: string, event: RecordedEvent): EventSpan | undefined {
  if (!tracingEnabled()) return undefined
  const parent = contextFromTraceparent(event.metadata[TRACEPARENT_KEY])
  const span = tracer.startSpan(name, { kind: SpanKind.CONSUMER }, parent)
  if (!span.isRecording()) return undefined
  span.setAttribute(spanAttributes.position, String(event.position))
  span.setAttribute(spanAttributes.eventType, event.type)
  return { span, context: trace.setSpan(parent, span) }
}
