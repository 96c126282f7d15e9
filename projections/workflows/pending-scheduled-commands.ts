import { z } from 'zod'
import { scheduledCommandAggregate } from '../../framework/internal.ts'
import { defineProjection, type ProjectionDefinition } from '../define-projection.ts'

/** The read model of the schedules not yet sent nor cancelled: `pendingScheduledCommandsList` in GraphQL. */
export const PENDING_SCHEDULED_COMMANDS = 'pendingScheduledCommands'

export const PendingScheduledCommand = z.object({
  scheduleId: z.string().describe('What cancelScheduledCommand names.'),
  aggregate: z.string().describe('The aggregate type the command is for.'),
  command: z.string().describe('The command to send.'),
  aggregateId: z.string(),
  at: z.date().describe('When it is due.'),
  scheduledAt: z.date(),
})
export type PendingScheduledCommand = z.infer<typeof PendingScheduledCommand>

/**
 * One row per pending schedule, from the ScheduledCommand streams: a row appears when a command is scheduled
 * and goes when it fires or is cancelled, so the model holds the pending schedules only (each schedule's
 * history stays in its stream). Its input is left out: it is the command's, shown to whoever may list.
 */
export function pendingScheduledCommandsProjection(): ProjectionDefinition<PendingScheduledCommand> {
  const ScheduledCommand = scheduledCommandAggregate([])
  return defineProjection({
    name: PENDING_SCHEDULED_COMMANDS,
    description: 'The scheduled commands not yet sent nor cancelled.',
    row: PendingScheduledCommand,
    key: 'scheduleId',
    from: [ScheduledCommand],
    indexes: ['command'],
    handlers: {
      CommandScheduled: (_row, { data }, { key }) => ({
        scheduleId: key,
        aggregate: data.target.aggregate,
        command: data.target.command,
        aggregateId: data.target.aggregateId,
        at: new Date(data.at),
        scheduledAt: new Date(data.scheduledAt),
      }),
      ScheduledCommandFired: () => null,
      ScheduledCommandCancelled: () => null,
    },
  })
}
