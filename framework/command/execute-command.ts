import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { snapshotCodec } from '../aggregate/snapshot-codec.ts'
import type { EventStore, EventToAppend } from '../event-store/event-store.ts'
import type { AppendedEvent, CommandResult } from './command-bus.ts'
import { checkEmittedEvents } from './check-emitted-events.ts'
import { loadAggregate, type LoadedAggregate, type StateOf } from './load-aggregate.ts'
import { parseCommandInput } from './parse-command-input.ts'
import { proposeEvent } from './propose-event.ts'
import { readCommandResult } from './read-command-result.ts'
import { rememberCommand, windowFrom } from './recent-commands.ts'
import { writeSnapshot } from './write-snapshot.ts'

export interface ExecuteCommandOptions<TAggregate extends AnyAggregate = AnyAggregate> {
  readonly store: EventStore
  readonly aggregate: TAggregate
  readonly id: string
  readonly command: string
  /** Unvalidated input; validated with the command's zod schema before anything is read or decided. */
  readonly input: unknown
  /** The idempotency key: event ids derive from it, and a command id already applied is answered again. */
  readonly commandId: string
  /** The instance as the caller holds it (a hot aggregate); omitted, it is loaded from the store. */
  readonly loaded?: LoadedAggregate<StateOf<TAggregate>>
  /** The decision time handed to decide; defaults to now. */
  readonly now?: Date
}

/** What a command did, and the instance after it: pass it back as `loaded` for the next command. */
export interface ExecutedCommand<TState = unknown> extends Required<LoadedAggregate<TState>> {
  readonly result: CommandResult
}

/**
 * Runs one command once: validates its input, decides on the loaded state, checks the events against their
 * schemas, appends them with the expected revision and ids derived from the command id, evolves the state
 * and writes a snapshot when one is due. A ConcurrencyConflictError is left to the caller to retry.
 *
 * @example
 * const { result } = await executeCommand({ store, aggregate: Battery, id: 'b-1', command: 'install',
 *   input: { capacityKwh: 13.5 }, commandId: randomUUID() })
 */
export async function executeCommand<TAggregate extends AnyAggregate>(
  options: ExecuteCommandOptions<TAggregate>,
): Promise<ExecutedCommand<StateOf<TAggregate>>> {
  type TState = StateOf<TAggregate>
  const { store, aggregate, id, commandId } = options
  const { definition, input } = parseCommandInput(aggregate, options.command, options.input)
  const loaded = options.loaded ?? (await loadAggregate(store, aggregate, id))
  const recentCommands = loaded.recentCommands ?? windowFrom(undefined)
  const applied = recentCommands.get(commandId)
  if (applied) {
    const result = await readCommandResult({ store, aggregate, id, commandId, ...applied })
    return { result, state: loaded.state, revision: loaded.revision, recentCommands }
  }

  const now = options.now ?? new Date()
  const decided = definition.decide(loaded.state, input, {
    id,
    revision: loaded.revision,
    commandId,
    now,
  })
  const emitted = checkEmittedEvents(aggregate, decided)
  if (emitted.length === 0) {
    const result = { aggregateId: id, commandId, revision: loaded.revision, events: [], position: 0n }
    return { result, state: loaded.state, revision: loaded.revision, recentCommands }
  }
  const events = emitted.map((event, index) => proposeEvent(aggregate, event, commandId, index))
  const expectedRevision = loaded.revision === -1n ? 'no_stream' : loaded.revision
  const appended = await store.appendToStream(aggregate.streamName(id), events, { expectedRevision })
  // Same ids at the same expected revision are an idempotent append (a racing duplicate): same revisions.
  const first = loaded.revision + 1n
  let state = loaded.state
  for (let index = 0; index < emitted.length; index++) {
    const context = { id, revision: first + BigInt(index), createdAt: now }
    state = aggregate.apply(state, emitted[index]!, context) as TState
  }
  rememberCommand(recentCommands, commandId, first, appended.nextRevision)
  const result: CommandResult =
    events.length === 1
      ? {
          aggregateId: id,
          commandId,
          revision: appended.nextRevision,
          events: [appendedEvent(events[0]!, appended.nextRevision, appended.position)],
          position: appended.position,
        }
      : await readCommandResult({ store, aggregate, id, commandId, first, last: appended.nextRevision })
  if (snapshotCodec.isDue(aggregate, loaded.revision, appended.nextRevision)) {
    await writeSnapshot({ store, aggregate, id, state, revision: appended.nextRevision, recentCommands })
  }
  return { result, state, revision: appended.nextRevision, recentCommands }
}

function appendedEvent(event: EventToAppend, revision: bigint, position: bigint): AppendedEvent {
  return { id: event.id, type: event.type, data: event.data, revision, position }
}
