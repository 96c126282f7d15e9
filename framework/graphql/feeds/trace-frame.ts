import { SpanKind } from '@opentelemetry/api'
import { contextFromTraceparent } from '../../tracing/traceparent.ts'
import { spanAttributes, tracer } from '../../tracing/tracer.ts'
import type { FeedItem, TakenItem } from './bounded-feed.ts'

/**
 * Starts the span of a live frame as one client's subscription takes it (`subscription <feed>`): a child of
 * the command whose event caused it, read from the traceparent stored with the event, on whichever replica
 * the client is connected to. The span ends when the subscription asks for its next frame, this one executed
 * and written to the socket. History (the state so far, events read back) gets no span: it belongs to old
 * traces, and a reconnect would add hundreds to them. Undefined when the span does not record.
 */
export function startFrameSpan(
  feed: string,
  item: FeedItem<{ readonly position: string }>,
): TakenItem | undefined {
  if (!item.live) return undefined
  const span = tracer.startSpan(
    `subscription ${feed}`,
    { kind: SpanKind.PRODUCER },
    contextFromTraceparent(item.traceparent),
  )
  if (!span.isRecording()) return undefined
  span.setAttribute(spanAttributes.feed, feed)
  span.setAttribute(spanAttributes.position, item.value.position)
  return span
}
