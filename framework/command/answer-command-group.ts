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
 * The outcomes of the group's first `count` decisions, given the `$all` position of each appended event;
 * only a command applied before the group reads the store.
 */
export async function answerCommandGroup(
  group: AnsweredGroup,
  positions: readonly bigint[],
  count: number,
): Promise<CommandOutcome[]> {
  const outcomes: CommandOutcome[] = []
  for (let index = 0; index < count; index++) {
    outcomes.push(await answerOne(group, positions, outcomes, index))
  }
  return outcomes
}

async function answerOne(
  group: AnsweredGroup,
  positions: readonly bigint[],
  earlier: readonly CommandOutcome[],
  index: number,
): Promise<CommandOutcome> {
  const { store, aggregate, id: aggregateId, events, decisions, commands } = group
  const decision = decisions[index]!
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
    case 'applied':
      try {
        const result = await readCommandResult({ store, aggregate, id: aggregateId, commandId, ...decision })
        return { ok: true, result }
      } catch (error) {
        return { ok: false, error }
      }
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
      return { ok: true, result }
    }
  }
}
