import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { snapshotCodec } from '../aggregate/snapshot-codec.ts'
import type { EventStore, EventToAppend } from '../event-store/event-store.ts'
import type { AppendedEvent, CommandResult } from './command-bus.ts'
import { checkEmittedEvents } from './check-emitted-events.ts'
import { jsonSizeBound } from './json-size-bound.ts'
import type { LoadedAggregate, StateOf } from './load-aggregate.ts'
import { parseCommandInput } from './parse-command-input.ts'
import { proposeEvent } from './propose-event.ts'
import { readCommandResult } from './read-command-result.ts'
import { rememberCommand, windowFrom } from './recent-commands.ts'
import { writeSnapshot } from './write-snapshot.ts'

/** EventStoreDB's maximum append size: the bytes of the events' data and metadata in one append. */
export const MAX_APPEND_BYTES = 1_048_576

export interface GroupedCommand {
  readonly command: string
  /** Unvalidated input, as executeCommand takes it. */
  readonly input: unknown
  readonly commandId: string
}

export interface ExecuteCommandGroupOptions<TAggregate extends AnyAggregate = AnyAggregate> {
  readonly store: EventStore
  readonly aggregate: TAggregate
  readonly id: string
  /** The commands, in the order they arrived; the group takes a prefix of them (see `taken`). */
  readonly commands: readonly GroupedCommand[]
  /** The instance as the caller holds it; the group never reads before it writes. */
  readonly loaded: LoadedAggregate<StateOf<TAggregate>>
  readonly now?: Date
  /** The group stops taking commands before its events pass this many bytes (default MAX_APPEND_BYTES). */
  readonly maxAppendBytes?: number
}

/** How one command of a group ended: its result, or the error it alone is answered with. */
export type CommandOutcome =
  { readonly ok: true; readonly result: CommandResult } | { readonly ok: false; readonly error: unknown }

/**
 * What a group did. `taken` commands (a prefix of those given) were decided; the others did not fit in one
 * append and are left for the next group. Once appended, `loaded` is ready for the next group at once, while
 * `outcomes` resolves (never rejects) when each event's position has been read back. When the append failed, `settled` holds the outcomes of the
 * commands decided before the first that emitted events (they did not depend on the failed append); the
 * rest of the taken commands are unanswered, for the caller to run again or to fail with `error`.
 */
export type ExecutedCommandGroup<TState = unknown> =
  | {
      readonly appended: true
      readonly taken: number
      readonly outcomes: Promise<readonly CommandOutcome[]>
      readonly loaded: Required<LoadedAggregate<TState>>
    }
  | {
      readonly appended: false
      readonly taken: number
      readonly error: unknown
      readonly settled: readonly CommandOutcome[]
    }

type Decision =
  | { readonly kind: 'appends'; readonly first: bigint; readonly offset: number; readonly count: number }
  | { readonly kind: 'nothing'; readonly revision: bigint }
  | { readonly kind: 'refused'; readonly error: unknown }
  | { readonly kind: 'applied'; readonly first: bigint; readonly last: bigint }
  | { readonly kind: 'repeats'; readonly index: number }

/**
 * Runs several commands to one aggregate as one write: decides them one after another against the state
 * as it evolves (exactly as if each ran alone after the one before), then appends all their events in ONE
 * append with one expected revision. Each command keeps its own event ids (derived from its command id), its
 * own result, revision and positions; a refused command emits nothing and does not stop the others; a
 * command id already applied, or repeated within the group, is answered with the first result.
 *
 * @example
 * const group = await executeCommandGroup({ store, aggregate: Counter, id: 'c-1', loaded, commands })
 * if (group.appended) loaded = group.loaded
 */
export async function executeCommandGroup<TAggregate extends AnyAggregate>(
  options: ExecuteCommandGroupOptions<TAggregate>,
): Promise<ExecutedCommandGroup<StateOf<TAggregate>>> {
  type TState = StateOf<TAggregate>
  const { store, aggregate, id, commands, loaded } = options
  const maxBytes = options.maxAppendBytes ?? MAX_APPEND_BYTES
  const now = options.now ?? new Date()
  const window = loaded.recentCommands ?? windowFrom(undefined)
  const inGroup = new Map<string, number>()
  const decisions: Decision[] = []
  const events: EventToAppend[] = []
  let state = loaded.state
  let revision = loaded.revision
  let bytes = 0
  for (const { command, input: rawInput, commandId } of commands) {
    try {
      const { definition, input } = parseCommandInput(aggregate, command, rawInput)
      const earlier = inGroup.get(commandId)
      if (earlier !== undefined) {
        decisions.push({ kind: 'repeats', index: earlier })
        continue
      }
      const applied = window.get(commandId)
      if (applied) {
        decisions.push({ kind: 'applied', first: applied.first, last: applied.last })
        continue
      }
      const decided = definition.decide(state, input, { id, revision, commandId, now })
      const emitted = checkEmittedEvents(aggregate, decided)
      if (emitted.length === 0) {
        decisions.push({ kind: 'nothing', revision })
        continue
      }
      const proposed = emitted.map((event, index) => proposeEvent(aggregate, event, commandId, index))
      const size = proposed.reduce((sum, event) => sum + sizeBound(event, maxBytes), 0)
      // One command alone may still be too big: the store refuses it, as it would without grouping.
      if (events.length > 0 && bytes + size > maxBytes) break
      let evolved = state
      for (let index = 0; index < emitted.length; index++) {
        const context = { id, revision: revision + 1n + BigInt(index), createdAt: now }
        evolved = aggregate.apply(evolved, emitted[index]!, context) as TState
      }
      inGroup.set(commandId, decisions.length)
      decisions.push({ kind: 'appends', first: revision + 1n, offset: events.length, count: proposed.length })
      for (const event of proposed) events.push(event)
      state = evolved
      revision += BigInt(proposed.length)
      bytes += size
    } catch (error) {
      decisions.push({ kind: 'refused', error })
    }
  }
  const taken = decisions.length
  const answering = { store, aggregate, id, events, decisions, commands }
  if (events.length === 0) {
    const outcomes = outcomesOf(answering, [], taken)
    return { appended: true, taken, outcomes, loaded: { state, revision, recentCommands: window } }
  }
  const streamName = aggregate.streamName(id)
  const expectedRevision = loaded.revision === -1n ? 'no_stream' : loaded.revision
  let position: bigint
  try {
    position = (await store.appendToStream(streamName, events, { expectedRevision })).position
  } catch (error) {
    const independent = decisions.findIndex((decision) => decision.kind === 'appends')
    return { appended: false, taken, error, settled: await outcomesOf(answering, [], independent) }
  }
  for (const [index, decision] of decisions.entries()) {
    if (decision.kind !== 'appends') continue
    const last = decision.first + BigInt(decision.count - 1)
    rememberCommand(window, commands[index]!.commandId, decision.first, last)
  }
  if (snapshotCodec.isDue(aggregate, loaded.revision, revision)) {
    await writeSnapshot({ store, aggregate, id, state, revision, recentCommands: window })
  }
  // The read-back of positions is off the path of the next group: only these commands' answers wait for it.
  const outcomes = positionsOf(store, streamName, loaded.revision + 1n, events.length, position).then(
    (positions) => outcomesOf(answering, positions, taken),
  )
  return { appended: true, taken, outcomes, loaded: { state, revision, recentCommands: window } }
}

interface Answering {
  readonly store: EventStore
  readonly aggregate: AnyAggregate
  readonly id: string
  readonly events: readonly EventToAppend[]
  readonly decisions: readonly Decision[]
  readonly commands: readonly GroupedCommand[]
}

/** The outcomes of the first `count` decisions; only a command applied before the group reads the store. */
async function outcomesOf(
  group: Answering,
  positions: readonly bigint[],
  count: number,
): Promise<CommandOutcome[]> {
  const { store, aggregate, id: aggregateId, events, decisions, commands } = group
  const outcomes: CommandOutcome[] = []
  for (let index = 0; index < count; index++) {
    const decision = decisions[index]!
    const { commandId } = commands[index]!
    switch (decision.kind) {
      case 'refused':
        outcomes.push({ ok: false, error: decision.error })
        break
      case 'nothing': {
        const result = { aggregateId, commandId, revision: decision.revision, events: [], position: 0n }
        outcomes.push({ ok: true, result })
        break
      }
      case 'repeats': {
        const first = outcomes[decision.index]!
        outcomes.push(first.ok ? { ok: true, result: { ...first.result, commandId } } : first)
        break
      }
      case 'applied':
        try {
          const result = await readCommandResult({
            store,
            aggregate,
            id: aggregateId,
            commandId,
            ...decision,
          })
          outcomes.push({ ok: true, result })
        } catch (error) {
          outcomes.push({ ok: false, error })
        }
        break
      case 'appends': {
        const appended: AppendedEvent[] = []
        for (let k = 0; k < decision.count; k++) {
          const { id, type, data } = events[decision.offset + k]!
          const revision = decision.first + BigInt(k)
          appended.push({ id, type, data, revision, position: positions[decision.offset + k]! })
        }
        const last = appended[appended.length - 1]!
        const result = {
          aggregateId,
          commandId,
          revision: last.revision,
          events: appended,
          position: last.position,
        }
        outcomes.push({ ok: true, result })
      }
    }
  }
  return outcomes
}

/**
 * The `$all` position of each appended event. The append reports only the last one, so a group of several
 * events reads its own range back; an event not found there (the stream truncated meanwhile) gets the
 * last position, which is still a valid consistency token: the whole group was committed at once.
 */
async function positionsOf(
  store: EventStore,
  streamName: string,
  from: bigint,
  count: number,
  last: bigint,
): Promise<bigint[]> {
  const positions = new Array<bigint>(count).fill(last)
  if (count === 1) return positions
  try {
    for await (const stored of store.readStream(streamName, { fromRevision: from, maxCount: count })) {
      const index = Number(stored.revision - from)
      if (index >= 0 && index < count) positions[index] = stored.position
    }
  } catch {
    // The events are written; a failed read-back costs only exact positions, never the commands.
  }
  return positions
}

function sizeBound(event: EventToAppend, limit: number): number {
  return jsonSizeBound(event.data ?? null, limit) + jsonSizeBound(event.metadata ?? {}, limit)
}
