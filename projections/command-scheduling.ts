import { AnnalsError, nameBasedUuid, type CommandResult } from '../framework/index.ts'
import { SCHEDULED_COMMAND, type ScheduledTarget } from '../framework/internal.ts'
import type { CommandScheduling, ReactorCommand } from './reactors/define-reactor.ts'

/**
 * The scheduling half of a reaction's context, built on its `send` (so the schedule and cancel commands carry
 * ids derived from the trigger too); `idOf(n)` derives the n-th schedule's id from the trigger.
 */
export function commandScheduling(
  send: (command: ReactorCommand) => Promise<CommandResult>,
  idOf: (index: number) => string,
): CommandScheduling {
  let schedules = 0
  return {
    async scheduleCommand(command, at) {
      if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
        throw new AnnalsError('SCHEDULE_OUT_OF_RANGE', 'A scheduled command needs a valid time')
      }
      const scheduleId = idOf(schedules++)
      const target: ScheduledTarget = {
        aggregate: typeof command.aggregate === 'string' ? command.aggregate : command.aggregate.name,
        command: command.command,
        aggregateId: command.aggregateId,
        input: command.input,
      }
      const result = await send({
        aggregate: SCHEDULED_COMMAND,
        command: 'schedule',
        aggregateId: scheduleId,
        input: { target, at: at.toISOString() },
      })
      return { scheduleId, at, position: result.position }
    },
    async cancelScheduledCommand(scheduleId) {
      await send({ aggregate: SCHEDULED_COMMAND, command: 'cancel', aggregateId: scheduleId, input: {} })
    },
  }
}

/** A schedule's id, derived from the trigger that scheduled it. */
export function scheduleIdOf(trigger: string, index: number): string {
  return nameBasedUuid(`${trigger}/schedule/${index}`)
}
