import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventToAppend } from '../event-store/event-store.ts'
import { CommandIdReusedError } from '../errors.ts'
import { checkEmittedEvents } from './check-emitted-events.ts'
import { jsonSizeBound } from './json-size-bound.ts'
import type { LoadedAggregate, StateOf } from './load-aggregate.ts'
import { traceparentOf } from '../tracing/traceparent.ts'
import { proposeEvent } from './propose-event.ts'
import { commandHash, type RecentCommandWindow } from './recent-commands.ts'
import type { ValidCommand } from './validate-command.ts'

/** What deciding a command needs: its name, declaration, parsed input and id. */
export type GroupedCommand = Pick<
  ValidCommand,
  'command' | 'definition' | 'input' | 'commandId' | 'idGenerated' | 'trace'
>

/** What the group decided for one command, in the order the commands arrived. */
export type GroupDecision =
  | {
      readonly kind: 'appends'
      readonly first: bigint
      readonly offset: number
      readonly count: number
      /** What the command asked, hashed; absent for a command whose id the bus generated. */
      readonly hash: string | undefined
    }
  | { readonly kind: 'nothing'; readonly revision: bigint }
  | { readonly kind: 'refused'; readonly error: unknown }
  | { readonly kind: 'applied'; readonly first: bigint; readonly last: bigint }
  | { readonly kind: 'repeats'; readonly index: number }

export interface DecideCommandGroupOptions<TAggregate extends AnyAggregate> {
  readonly aggregate: TAggregate
  readonly id: string
  readonly commands: readonly GroupedCommand[]
  readonly loaded: LoadedAggregate<StateOf<TAggregate>>
  /** The commands applied before the group, by command id. */
  readonly window: RecentCommandWindow
  readonly now: Date
  readonly maxBytes: number
}

/** The decisions for a prefix of the commands, the events they emit, and the state they leave. */
export interface DecidedCommandGroup<TState> {
  readonly decisions: readonly GroupDecision[]
  readonly events: readonly EventToAppend[]
  readonly state: TState
  readonly revision: bigint
}

/**
 * Decides the commands one after another against the state as it evolves, exactly as if each ran alone
 * after the one before, and stops before the events would pass `maxBytes`. Nothing is written.
 */
export function decideCommandGroup<TAggregate extends AnyAggregate>(
  options: DecideCommandGroupOptions<TAggregate>,
): DecidedCommandGroup<StateOf<TAggregate>> {
  type TState = StateOf<TAggregate>
  const { aggregate, id, commands, loaded, window, now, maxBytes } = options
  // The command ids appended by this group, by decision; a lone command needs none.
  const inGroup = commands.length > 1 ? new Map<string, number>() : undefined
  // Arrays grown from empty by push allocate room for 16 at their first element: the decisions are sized for
  // every command (cut to those taken at the end), and a lone command's events are its own list.
  const decisions = new Array<GroupDecision>(commands.length)
  let taken = 0
  let events: EventToAppend[] | undefined
  let state = loaded.state
  let revision = loaded.revision
  let bytes = 0
  for (const { command, definition, input, commandId, idGenerated, trace } of commands) {
    try {
      const earlier = inGroup?.get(commandId)
      if (earlier !== undefined) {
        const first = decisions[earlier] as Extract<GroupDecision, { kind: 'appends' }>
        if (first.hash !== commandHash(command, input))
          throw new CommandIdReusedError(commandId, `on ${aggregate.name} ${id} for another command or input`)
        decisions[taken++] = { kind: 'repeats', index: earlier }
        continue
      }
      // An id the bus generated was never seen before: no lookup, and nothing to remember.
      const applied = idGenerated === true ? undefined : window.get(commandId)
      if (applied) {
        // A snapshot written before commands were hashed carries ids without one: those repeats are trusted.
        if (applied.hash !== undefined && applied.hash !== commandHash(command, input)) {
          throw new CommandIdReusedError(commandId, `on ${aggregate.name} ${id} for another command or input`)
        }
        decisions[taken++] = { kind: 'applied', first: applied.first, last: applied.last }
        continue
      }
      const decided = definition.decide(state, input, { id, revision, commandId, now })
      const emitted = checkEmittedEvents(aggregate, decided)
      if (emitted.length === 0) {
        decisions[taken++] = { kind: 'nothing', revision }
        continue
      }
      const traceparent = trace === undefined ? undefined : traceparentOf(trace)
      const hash = idGenerated === true ? undefined : commandHash(command, input)
      const proposing = { commandId, hash, traceparent, idGenerated }
      const proposed = new Array<EventToAppend>(emitted.length)
      for (let index = 0; index < emitted.length; index++) {
        proposed[index] = proposeEvent(aggregate, emitted[index]!, proposing, index)
      }
      // Sizes split a group into appends; a lone command goes whole (the store refuses it if too big).
      const size = inGroup ? proposed.reduce((sum, event) => sum + sizeBound(event, maxBytes), 0) : 0
      // One command alone may still be too big: the store refuses it, as it would without grouping.
      if (events !== undefined && bytes + size > maxBytes) break
      let evolved = state
      let last = revision
      for (const event of emitted) {
        last += 1n
        evolved = aggregate.apply(evolved, event, { id, revision: last, createdAt: now }) as TState
      }
      inGroup?.set(commandId, taken)
      decisions[taken++] = {
        kind: 'appends',
        first: revision + 1n,
        offset: events?.length ?? 0,
        count: proposed.length,
        hash: proposing.hash,
      }
      if (events === undefined) events = proposed
      else for (const event of proposed) events.push(event)
      state = evolved
      revision = last
      bytes += size
    } catch (error) {
      decisions[taken++] = { kind: 'refused', error }
    }
  }
  decisions.length = taken
  return { decisions, events: events ?? [], state, revision }
}

function sizeBound(event: EventToAppend, limit: number): number {
  return jsonSizeBound(event.data ?? null, limit) + jsonSizeBound(event.metadata ?? {}, limit)
}
