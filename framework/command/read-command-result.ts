import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { AppendedEvent, CommandResult } from './command-bus.ts'

/**
 * Rebuilds the result of a command that was already applied, by reading back the events it appended
 * (revisions `first..last`), so a repeated command id gets the same answer as the first time.
 */
export async function readCommandResult(options: {
  readonly store: EventStore
  readonly aggregate: AnyAggregate
  readonly id: string
  readonly commandId: string
  readonly first: bigint
  readonly last: bigint
}): Promise<CommandResult> {
  const { store, aggregate, id, first, last } = options
  const events: AppendedEvent[] = []
  const reading = store.readStream(aggregate.streamName(id), {
    fromRevision: first,
    maxCount: Number(last - first + 1n),
  })
  for await (const stored of reading) {
    const { type, data } = aggregate.parseStoredEvent(stored) as { type: string; data: unknown }
    events.push({ id: stored.id, type, data, revision: stored.revision, position: stored.position })
  }
  return {
    aggregateId: id,
    commandId: options.commandId,
    revision: last,
    events,
    position: events[events.length - 1]?.position ?? 0n,
  }
}
