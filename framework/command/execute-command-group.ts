import { trace, type Link, type Span } from '@opentelemetry/api'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { snapshotCodec } from '../aggregate/snapshot-codec.ts'
import type { AppendResult, EventStore } from '../event-store/event-store.ts'
import { spanAttributes, tracer } from '../tracing/tracer.ts'
import { answerCommandGroup, type CommandOutcome } from './answer-command-group.ts'
import { decideCommandGroup, type GroupDecision, type GroupedCommand } from './decide-command-group.ts'
import type { LoadedAggregate, StateOf } from './load-aggregate.ts'
import { RecentCommandWindow } from './recent-commands.ts'
import { endFailed } from './trace-command.ts'
import { writeSnapshot } from './write-snapshot.ts'

export type { CommandOutcome } from './answer-command-group.ts'
export type { GroupedCommand } from './decide-command-group.ts'

/** EventStoreDB's maximum append size: the bytes of the events' data and metadata in one append. */
export const MAX_APPEND_BYTES = 1_048_576

export interface ExecuteCommandGroupOptions<TAggregate extends AnyAggregate = AnyAggregate> {
  readonly store: EventStore
  readonly aggregate: TAggregate
  readonly id: string
  /** The aggregate's stream, when the caller already named it; default `aggregate.streamName(id)`. */
  readonly streamName?: string
  /** The commands, in the order they arrived; the group takes a prefix of them (see `taken`). */
  readonly commands: readonly GroupedCommand[]
  /** The instance as the caller holds it; the group never reads before it writes. */
  readonly loaded: LoadedAggregate<StateOf<TAggregate>>
  readonly now?: Date
  /** The group stops taking commands before its events pass this many bytes (default MAX_APPEND_BYTES). */
  readonly maxAppendBytes?: number
}

/**
 * What a group did. `taken` commands (a prefix of those given) were decided; the others did not fit in one
 * append and are left for the next group. Once appended, `loaded` is ready for the next group at once, while
 * `outcomes` resolves (never rejects) once each event's position is known (from the append's reply, or read back). When the append failed,
 * `settled` holds the outcomes of the commands decided before the first that emitted events (they did not
 * depend on the failed append); the
 * rest of the taken commands are unanswered, for the caller to run again or to fail with `error`.
 */
export type ExecutedCommandGroup<TState = unknown> =
  | {
      readonly appended: true
      readonly taken: number
      readonly outcomes: readonly CommandOutcome[] | Promise<readonly CommandOutcome[]>
      readonly loaded: Required<LoadedAggregate<TState>>
    }
  | {
      readonly appended: false
      readonly taken: number
      readonly error: unknown
      readonly settled: readonly CommandOutcome[]
    }

/**
 * Runs several commands to one aggregate as one write: decides them one after another against the state
 * as it evolves (exactly as if each ran alone after the one before), then appends all their events in ONE
 * append with one expected revision. Each command keeps its own event ids (fixed by its command id), its
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
  const { store, aggregate, id, commands, loaded } = options
  const maxBytes = options.maxAppendBytes ?? MAX_APPEND_BYTES
  const now = options.now ?? new Date()
  const window = loaded.recentCommands ?? new RecentCommandWindow()
  const decided = decideCommandGroup({ aggregate, id, commands, loaded, window, now, maxBytes })
  const { decisions, events, state, revision } = decided
  const taken = decisions.length
  const answering = { store, aggregate, id, events, decisions, commands }
  if (events.length === 0) {
    const outcomes = answerCommandGroup(answering, [], taken)
    return { appended: true, taken, outcomes, loaded: { state, revision, recentCommands: window } }
  }
  const streamName = options.streamName ?? aggregate.streamName(id)
  const expectedRevision = loaded.revision === -1n ? 'no_stream' : loaded.revision
  let appended: AppendResult
  const span = startAppendSpan(streamName, commands, decisions, events.length)
  try {
    appended = await store.appendToStream(streamName, events, { expectedRevision })
    if (span !== undefined) {
      span.setAttribute(spanAttributes.revision, String(appended.nextRevision))
      span.end()
    }
  } catch (error) {
    if (span !== undefined) endFailed(span, error)
    const independent = decisions.findIndex((decision) => decision.kind === 'appends')
    return { appended: false, taken, error, settled: await answerCommandGroup(answering, [], independent) }
  }
  for (let index = 0; index < taken; index++) {
    const decision = decisions[index]!
    // Only ids a caller sent are remembered: those are the ones a caller can send again.
    if (decision.kind !== 'appends' || decision.hash === undefined) continue
    const last = decision.first + BigInt(decision.count - 1)
    window.remember(commands[index]!.commandId, decision.first, last, decision.hash)
  }
  if (snapshotCodec.isDue(aggregate, loaded.revision, revision)) {
    await writeSnapshot({ store, aggregate, id, state, revision, recentCommands: window })
  }
  const next = { state, revision, recentCommands: window }
  // One event's position is the append's own: no read-back.
  const positions = events.length === 1 ? [appended.position] : appended.positions
  if (positions?.length === events.length) {
    return {
      appended: true,
      taken,
      outcomes: answerCommandGroup(answering, positions, taken),
      loaded: next,
    }
  }
  // The read-back of positions is off the path of the next group: only these commands' answers wait for it.
  const range = { streamName, from: loaded.revision + 1n, count: events.length, last: appended.position }
  const outcomes = positionsOf(store, range).then((positions) =>
    answerCommandGroup(answering, positions, taken),
  )
  return { appended: true, taken, outcomes, loaded: next }
}

/**
 * The `$all` position of each appended event. The append reports only the last one, so a group of several
 * events reads its own range back; an event not found there (the stream truncated meanwhile) gets the
 * last position, which is still a valid consistency token: the whole group was committed at once.
 */
async function positionsOf(
  store: EventStore,
  range: {
    readonly streamName: string
    readonly from: bigint
    readonly count: number
    readonly last: bigint
  },
): Promise<bigint[]> {
  const { streamName, from, count, last } = range
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

/**
 * The span of a group's append: a child of the first traced command that appends, linked to the other
 * traced commands of the group. Undefined when no command is traced or the span does not record.
 */
function startAppendSpan(
  streamName: string,
  commands: readonly GroupedCommand[],
  decisions: readonly GroupDecision[],
  eventCount: number,
): Span | undefined {
  let parent: GroupedCommand['trace']
  let links: Link[] | undefined
  for (let index = 0; index < decisions.length; index++) {
    const traced = commands[index]?.trace
    if (traced === undefined || decisions[index]!.kind !== 'appends') continue
    if (parent === undefined) parent = traced
    else {
      const context = trace.getSpanContext(traced)
      if (context !== undefined) (links ??= []).push({ context })
    }
  }
  if (parent === undefined) return undefined
  const span = tracer.startSpan('append', links === undefined ? {} : { links }, parent)
  if (!span.isRecording()) return undefined
  span.setAttribute(spanAttributes.stream, streamName)
  span.setAttribute(spanAttributes.events, eventCount)
  return span
}
