import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventStore, EventToAppend } from '../event-store/event-store.ts'
import type { AppendedEvent, CommandResult } from './command-bus.ts'
import type { GroupDecision, GroupedCommand } from './decide-command-group.ts'
import { readCommandResult } from './read-command-result.ts'

/** How one command of a group ended: its result, or the error it alone is answered with. */
export type CommandOutcome =
  { readonly ok: true; readonly result: CommandResult } | { readonly ok: false; readonly error: unknown }

/** A decided group, as its answers need it. */
export interface AnsweredGroup {
  readonly store: EventStore
  readonly aggregate: AnyAggregate
  readonly id: string
  readonly events: readonly EventToAppend[]
  readonly decisions: readonly GroupDecision[]
  readonly commands: readonly GroupedCommand[]
}

/**
 * The outcomes of the group's first `count` decisions, given the `$all` position of each appended event: at
 * once, unless a command applied before the group needs its result read back from the store.
 */
export function answerCommandGroup(
  group: AnsweredGroup,
  positions: readonly bigint[],
  count: number,
): CommandOutcome[] | Promise<CommandOutcome[]> {
  // Sized once: an array grown from empty by push allocates room for 16 at its first element.
  const outcomes = new Array<CommandOutcome>(count)
  for (let index = 0; index < count; index++) {
    const decision = group.decisions[index]!
    if (decision.kind === 'applied') return answerFrom(group, positions, outcomes, index, count)
    outcomes[index] = answerDecided(group, positions, outcomes, index, decision)
  }
  return outcomes
}

/** The outcomes from `from` on, once a command applied before the group needs its result read back. */
async function answerFrom(
  group: AnsweredGroup,
  positions: readonly bigint[],
  outcomes: CommandOutcome[],
  from: number,
  count: number,
): Promise<CommandOutcome[]> {
  for (let index = from; index < count; index++) {
    const decision = group.decisions[index]!
    outcomes[index] =
      decision.kind === 'applied'
        ? await answerApplied(group, index, decision)
        : answerDecided(group, positions, outcomes, index, decision)
  }
  return outcomes
}

async function answerApplied(
  group: AnsweredGroup,
  index: number,
  decision: Extract<GroupDecision, { kind: 'applied' }>,
): Promise<CommandOutcome> {
  const { store, aggregate, id, commands } = group
  const { commandId } = commands[index]!
  try {
    const result = await readCommandResult({ store, aggregate, id, commandId, ...decision })
    return { ok: true, result }
  } catch (error) {
    return { ok: false, error }
  }
}

function answerDecided(
  group: AnsweredGroup,
  positions: readonly bigint[],
  earlier: readonly CommandOutcome[],
  index: number,
  decision: Exclude<GroupDecision, { kind: 'applied' }>,
): CommandOutcome {
  const { id: aggregateId, events, commands } = group
  const { commandId } = commands[index]!
  switch (decision.kind) {
    case 'refused':
      return { ok: false, error: decision.error }
    case 'nothing':
      return {
        ok: true,
        result: { aggregateId, commandId, revision: decision.revision, events: [], position: 0n },
      }
    case 'repeats': {
      const first = earlier[decision.index]!
      return first.ok ? { ok: true, result: { ...first.result, commandId } } : first
    }
    case 'appends': {
      const appended = new Array<AppendedEvent>(decision.count)
      for (let k = 0; k < decision.count; k++) {
        const { id, type, data } = events[decision.offset + k]!
        const revision = decision.first + BigInt(k)
        appended[k] = { id, type, data, revision, position: positions[decision.offset + k]! }
      }
      const last = appended[appended.length - 1]!
      const result = {
        aggregateId,
        commandId,
        revision: last.revision,
        events: appended,
        position: last.position,
      }
      return { ok: true, result }
    }
  }
}
