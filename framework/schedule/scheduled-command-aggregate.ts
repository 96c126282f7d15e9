import { z } from 'zod'
import { defineAggregate, type AnyAggregate } from '../aggregate/define-aggregate.ts'
import { validateCommand } from '../command/validate-command.ts'
import { AnnalsError } from '../errors.ts'

/** The aggregate type name of scheduled commands: each schedule is a stream `ScheduledCommand-<scheduleId>`. */
export const SCHEDULED_COMMAND = 'ScheduledCommand'

/** How far in the past a schedule may name its time (clock skew between a client and the service); it fires at once. */
export const SCHEDULE_PAST_TOLERANCE_MS = 5 * 60_000
/** How far ahead a command may be scheduled: a year and a day. */
export const SCHEDULE_HORIZON_MS = 366 * 24 * 60 * 60_000

/** The command a schedule sends when it falls due. */
export const ScheduledTarget = z.object({
  aggregate: z.string().min(1).max(200),
  command: z.string().min(1).max(200),
  aggregateId: z.string().min(1),
  input: z.unknown(),
})
export type ScheduledTarget = z.infer<typeof ScheduledTarget>

const ScheduleStatus = z.enum(['none', 'pending', 'fired', 'cancelled'])

/**
 * The write side of scheduled commands: each schedule is an aggregate whose stream says when its command is
 * due, whether it was cancelled, and when it fired. Its commands are internal (no generated mutation): the
 * gateway's `schedule<Command>` mutations, a workflow's or a reactor's `scheduleCommand`, and the
 * scheduled-commands workflow that fires them send them. The aggregate is the fence between a cancel and the
 * firing: whichever its stream takes first wins, so a cancel that was accepted means the command is never sent.
 * `aggregates` are the service's own, against which a schedule's command is checked when it is scheduled.
 */
export function scheduledCommandAggregate(aggregates: readonly AnyAggregate[]) {
  const byName = new Map(aggregates.map((aggregate) => [aggregate.name, aggregate]))
  return defineAggregate({
    name: SCHEDULED_COMMAND,
    description: 'A command scheduled to be sent at a time.',
    state: z.object({ status: ScheduleStatus, at: z.string() }),
    initialState: { status: 'none' as const, at: '' },
    events: {
      CommandScheduled: z.object({
        target: ScheduledTarget,
        at: z.iso.datetime(),
        scheduledAt: z.iso.datetime(),
      }),
      ScheduledCommandCancelled: z.object({ cancelledAt: z.iso.datetime() }),
      ScheduledCommandFired: z.object({
        due: z.iso.datetime(),
        firedAt: z.iso.datetime(),
        latenessMs: z.number().nonnegative(),
      }),
    },
    commands: {
      schedule: {
        internal: true,
        input: z.object({ target: ScheduledTarget, at: z.iso.datetime() }),
        decide: (state, { target, at }, { id, now }) => {
          if (state.status !== 'none') {
            throw new AnnalsError('COMMAND_ID_REUSED', `Schedule ${id} exists already (${state.status})`)
          }
          checkDue(at, now)
          checkTarget(byName, target)
          return {
            type: 'CommandScheduled',
            data: { target, at: new Date(at).toISOString(), scheduledAt: now.toISOString() },
          }
        },
      },
      cancel: {
        internal: true,
        input: z.object({}),
        decide: (state, _input, { id, now }) => {
          if (state.status === 'none') throw new AnnalsError('NOT_FOUND', `No command is scheduled as ${id}`)
          if (state.status === 'cancelled') return []
          if (state.status === 'fired') {
            throw new AnnalsError('SCHEDULE_NOT_PENDING', `Schedule ${id} has fired already`, {
              details: { status: state.status },
            })
          }
          return { type: 'ScheduledCommandCancelled', data: { cancelledAt: now.toISOString() } }
        },
      },
      fire: {
        internal: true,
        input: z.object({
          due: z.iso.datetime(),
          firedAt: z.iso.datetime(),
          latenessMs: z.number().nonnegative(),
        }),
        decide: (state, input, { id }) => {
          if (state.status !== 'pending') {
            throw new AnnalsError('SCHEDULE_NOT_PENDING', `Schedule ${id} is ${state.status}`, {
              details: { status: state.status },
            })
          }
          return { type: 'ScheduledCommandFired', data: input }
        },
      },
    },
    evolve: {
      CommandScheduled: (_state, { at }) => ({ status: 'pending' as const, at }),
      ScheduledCommandCancelled: (state) => ({ ...state, status: 'cancelled' as const }),
      ScheduledCommandFired: (state) => ({ ...state, status: 'fired' as const }),
    },
  })
}

/** A time too far in the past or the future is refused: SCHEDULE_OUT_OF_RANGE. */
function checkDue(at: string, now: Date) {
  const due = Date.parse(at)
  if (due < now.getTime() - SCHEDULE_PAST_TOLERANCE_MS) {
    throw new AnnalsError('SCHEDULE_OUT_OF_RANGE', `${at} is more than five minutes in the past`, {
      details: { at, now: now.toISOString() },
    })
  }
  if (due > now.getTime() + SCHEDULE_HORIZON_MS) {
    throw new AnnalsError('SCHEDULE_OUT_OF_RANGE', `${at} is more than 366 days ahead`, {
      details: { at, now: now.toISOString() },
    })
  }
}

/** The scheduled command must exist and its input fit its schema now, not only when it fires. */
function checkTarget(aggregates: ReadonlyMap<string, AnyAggregate>, target: ScheduledTarget) {
  if (target.aggregate === SCHEDULED_COMMAND) {
    throw new AnnalsError('UNKNOWN_COMMAND', 'A schedule cannot schedule another schedule')
  }
  // Issues are the target's own (`id`, or a field of its input). An async refinement makes this a promise:
  // that input is checked when the command is sent.
  const checked = validateCommand(aggregates, target, 'schedule', { generatedCommandId: true })
  if (checked instanceof Promise) checked.catch(() => {})
}
