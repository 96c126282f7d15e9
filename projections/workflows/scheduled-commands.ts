import { z } from 'zod'
import { DomainError, isAnnalsError } from '../../framework/index.ts'
import { SCHEDULED_COMMAND, scheduledCommandAggregate } from '../../framework/internal.ts'
import { defineWorkflow, type WorkflowDefinition } from './define-workflow.ts'

/** The name of the workflow that fires scheduled commands: `workflow('scheduledCommands')` on the read side. */
export const SCHEDULED_COMMANDS_WORKFLOW = 'scheduledCommands'

const ScheduleState = z.object({
  target: z
    .object({ aggregate: z.string(), command: z.string(), aggregateId: z.string(), input: z.unknown() })
    .nullable(),
  /** A domain refusal of the command when it was sent: its code. */
  refused: z.string().nullable(),
})

/**
 * The workflow that fires scheduled commands, one instance per schedule: a `CommandScheduled` event sets its
 * one timer at the schedule's time, a cancel completes it. When the timer fires, the schedule's stream takes
 * the firing first (refused if a cancel got there first: then nothing is sent), then the command is sent with
 * the workflow's derived id (from the timer, whose id derives from the scheduling event), so a repeat after a
 * crash has no second effect. Durable, placed on the ring, and fired after any restart, as every timer is.
 */
export function scheduledCommandsWorkflow(
  options: { readonly partitions?: number } = {},
): WorkflowDefinition {
  const ScheduledCommand = scheduledCommandAggregate([])
  return defineWorkflow({
    name: SCHEDULED_COMMANDS_WORKFLOW,
    description: 'Sends each scheduled command at its time, unless it was cancelled.',
    state: ScheduleState,
    initialState: { target: null, refused: null },
    from: [ScheduledCommand],
    startsOn: ['CommandScheduled'],
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    handlers: {
      CommandScheduled: (state, { data }, ctx) => {
        ctx.schedule('due', { at: new Date(data.at) })
        return { ...state, target: data.target }
      },
      ScheduledCommandCancelled: (_state, _event, ctx) => ctx.complete(),
    },
    timers: {
      due: async (state, ctx) => {
        ctx.complete()
        if (!state.target) return state
        const { timer } = ctx
        try {
          await ctx.send({
            aggregate: SCHEDULED_COMMAND,
            command: 'fire',
            aggregateId: ctx.workflowId,
            input: {
              due: timer.due.toISOString(),
              firedAt: timer.firedAt.toISOString(),
              latenessMs: timer.latenessMs,
            },
          })
        } catch (error) {
          if (!firedBefore(error)) {
            if (isAnnalsError(error) && error.code === 'SCHEDULE_NOT_PENDING') return state // cancelled first
            throw error
          }
        }
        try {
          await ctx.send(state.target)
          return state
        } catch (error) {
          // The aggregate refused it: final, not a fault to retry; the instance keeps the refusal.
          if (error instanceof DomainError) return { ...state, refused: error.code }
          throw error
        }
      },
    },
  })
}

/**
 * A repeat of the firing after a crash: its `fire` went in before (this workflow alone fires a schedule, with
 * the same command id; a later `firedAt` makes its input differ).
 */
function firedBefore(error: unknown): boolean {
  if (!isAnnalsError(error)) return false
  if (error.code === 'COMMAND_ID_REUSED') return true
  return error.code === 'SCHEDULE_NOT_PENDING' && error.details?.['status'] === 'fired'
}
