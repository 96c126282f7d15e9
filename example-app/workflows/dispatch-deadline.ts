import { z } from 'zod'
import { errorCodes, isAnnalsError } from 'annals'
import { defineWorkflow } from 'annals/projections'
import { Battery } from '../domain/battery.ts'
import { Dispatch } from '../domain/dispatch.ts'

/**
 * Holds a dispatch to its deadline: a dispatch requested with `deadlineSeconds` that is not completed by then
 * has its allocated batteries stopped and is marked failed; completed in time, its deadline is cancelled.
 */
export const dispatchDeadline = defineWorkflow({
  name: 'dispatchDeadline',
  description: 'Fails a dispatch not completed by its deadline and releases its batteries.',
  state: z.object({ batteryIds: z.array(z.string()) }),
  initialState: { batteryIds: [] },
  from: [Dispatch],
  startsOn: ['DispatchRequested'],
  handlers: {
    DispatchRequested: (state, { data }, ctx) => {
      if (data.deadlineSeconds === undefined) return ctx.complete()
      // Counted on the workflow clock (the one tests move), from when the request is handled.
      ctx.schedule('deadline', { afterMs: data.deadlineSeconds * 1000 })
      return state
    },
    BatteryAllocated: (state, { data }) => ({ batteryIds: [...state.batteryIds, data.batteryId] }),
    DispatchCompleted: (_state, _event, ctx) => {
      ctx.cancel('deadline')
      ctx.complete()
    },
    DispatchFailed: (_state, _event, ctx) => ctx.complete(),
  },
  timers: {
    deadline: async (state, ctx) => {
      for (const batteryId of state.batteryIds) {
        await refusalIsAnswer(
          ctx.send({ aggregate: Battery, command: 'stopPower', aggregateId: batteryId, input: {} }),
        )
      }
      await refusalIsAnswer(
        ctx.send({
          aggregate: Dispatch,
          command: 'failDispatch',
          aggregateId: ctx.workflowId,
          input: { reason: 'Not completed by its deadline' },
        }),
      )
      ctx.complete()
    },
  },
})

/** A domain refusal (the battery is idle already, the dispatch closed meanwhile) is an answer; anything else throws. */
async function refusalIsAnswer(sent: Promise<unknown>): Promise<void> {
  try {
    await sent
  } catch (error) {
    if (!isAnnalsError(error) || error.code in errorCodes) throw error
  }
}
