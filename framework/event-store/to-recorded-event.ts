import type { AllStreamResolvedEvent, ResolvedEvent } from '@eventstore/db-client'
import type { RecordedEvent } from './event-store.ts'

/**
 * Converts an event read through @eventstore/db-client to the port's RecordedEvent; undefined for a link
 * whose target is gone. Servers before EventStoreDB 22.6 give no position on stream reads: it is then -1n.
 */
export function toRecordedEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const event = resolved.event
  if (!event) return undefined
  return {
    streamName: event.streamId,
    id: event.id,
    type: event.type,
    revision: event.revision,
    position: positionOf(resolved) ?? -1n,
    data: event.data,
    metadata: isRecord(event.metadata) ? event.metadata : {},
    createdAt: event.created,
  }
}

/** The commit position of a read event: from the record, or from the read's own position field. */
export function positionOf(resolved: ResolvedEvent | AllStreamResolvedEvent): bigint | undefined {
  return resolved.event?.position?.commit ?? resolved.commitPosition
}

/** A JSON object (not an array, not binary data). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  )
}
