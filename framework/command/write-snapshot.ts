import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { SNAPSHOTS_KEPT, snapshotCodec, type RecentCommands } from '../aggregate/snapshot-codec.ts'
import type { EventStore } from '../event-store/event-store.ts'
import { deriveEventId } from './derive-event-id.ts'

/**
 * Appends a snapshot of an aggregate instance to its snapshot stream; the first one also caps the stream
 * with `$maxCount`, so old snapshots fall out of sight. A failure is returned, not thrown: a missing
 * snapshot only costs a longer load, so it must never fail the command that triggered it.
 */
export async function writeSnapshot(options: {
  readonly store: EventStore
  readonly aggregate: AnyAggregate
  readonly id: string
  readonly state: unknown
  readonly revision: bigint
  readonly recentCommands?: RecentCommands
}): Promise<{ written: boolean; error?: unknown }> {
  const { store, aggregate, id, state, revision } = options
  const streamName = aggregate.snapshotStreamName(id)
  const { type, data } = snapshotCodec.encode(aggregate, { state, revision }, options.recentCommands)
  try {
    const eventId = deriveEventId(`snapshot:${aggregate.streamName(id)}`, Number(revision))
    const appended = await store.appendToStream(streamName, [{ id: eventId, type, data }])
    if (appended.nextRevision === 0n) {
      await store.setStreamMetadata(streamName, { $maxCount: SNAPSHOTS_KEPT })
    }
    return { written: true }
  } catch (error) {
    return { written: false, error }
  }
}
