import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { snapshotCodec, type DecodedSnapshot } from '../aggregate/snapshot-codec.ts'
import type { EventStore } from '../event-store/event-store.ts'
import { COMMAND_HASH_KEY, COMMAND_ID_KEY, RecentCommandWindow } from './recent-commands.ts'

/** The state type of an aggregate. */
export type StateOf<TAggregate extends AnyAggregate> = ReturnType<TAggregate['initial']>

/** An aggregate instance as the pipeline holds it between commands. */
export interface LoadedAggregate<TState = unknown> {
  readonly state: TState
  /** The revision of the last event folded into the state; -1n for an aggregate with no events yet. */
  readonly revision: bigint
  /** Commands recently applied, so a repeated command id is answered without deciding again. */
  readonly recentCommands?: RecentCommandWindow
}

export interface LoadOptions {
  /** How many recent command ids the instance remembers for deduplication (default RECENT_COMMANDS_KEPT). */
  readonly recentCommandsKept?: number
}

/**
 * Loads an aggregate instance: its latest usable snapshot, then the events after it, each parsed (upcast,
 * validated) and folded with evolve. A snapshot that fails the state schema is ignored.
 *
 * @example
 * const { state, revision } = await loadAggregate(store, Battery, 'b-1')
 */
export async function loadAggregate<TAggregate extends AnyAggregate>(
  store: EventStore,
  aggregate: TAggregate,
  id: string,
  options: LoadOptions = {},
): Promise<LoadedAggregate<StateOf<TAggregate>>> {
  type TState = StateOf<TAggregate>
  const snapshot = aggregate.snapshotEvery > 0 ? await latestSnapshot(store, aggregate, id) : undefined
  let state = snapshot ? (snapshot.state as TState) : (aggregate.initial(id) as TState)
  let revision = snapshot?.revision ?? -1n
  const recentCommands = RecentCommandWindow.from(snapshot?.recentCommands, options.recentCommandsKept)
  const streamName = aggregate.streamName(id)
  for await (const stored of store.readStream(streamName, { fromRevision: revision + 1n })) {
    const event = aggregate.parseStoredEvent(stored)
    state = aggregate.apply(state, event, {
      id,
      revision: stored.revision,
      createdAt: stored.createdAt,
    }) as TState
    revision = stored.revision
    const commandId = stored.metadata[COMMAND_ID_KEY]
    const hash = stored.metadata[COMMAND_HASH_KEY]
    // An event without a hash is from a command whose id the bus generated (no caller can send that id again),
    // or from before hashes were recorded.
    if (typeof commandId === 'string' && typeof hash === 'string') {
      recentCommands.remember(commandId, stored.revision, stored.revision, hash)
    }
  }
  return { state, revision, recentCommands }
}

async function latestSnapshot(
  store: EventStore,
  aggregate: AnyAggregate,
  id: string,
): Promise<DecodedSnapshot | undefined> {
  const name = aggregate.snapshotStreamName(id)
  for await (const stored of store.readStream(name, { direction: 'backwards', maxCount: 1 })) {
    return snapshotCodec.decode(aggregate, stored)
  }
  return undefined
}
