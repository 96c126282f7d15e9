import { z } from 'zod'
import { defineWorkflow } from '../../projections/workflows/define-workflow.ts'
import { Battery } from '../projections/battery-fixtures.ts'

export const SILENCE_MS = 60_000

/**
 * A watchdog per battery: installed, it expects a charge report within a minute, each report resets the
 * wait, and a silence orders a discharge of 0 kW (the fixture's stand-in for "mark offline"). Removing the
 * battery completes it. A report of 13 % makes its reaction throw, for the dead-letter tests.
 */
export const watchdog = defineWorkflow({
  name: 'watchdog',
  state: z.object({ reports: z.number(), silences: z.number() }),
  initialState: { reports: 0, silences: 0 },
  from: [Battery],
  startsOn: ['BatteryInstalled'],
  partitions: 2,
  retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 2 },
  handlers: {
    BatteryInstalled: (_state, _event, ctx) => ctx.schedule('silence', { afterMs: SILENCE_MS }),
    ChargeReported: (state, { data }, ctx) => {
      if (data.percent === 13) throw new Error('unlucky report')
      ctx.schedule('silence', { afterMs: SILENCE_MS })
      return { ...state, reports: state.reports + 1 }
    },
    BatteryRemoved: (_state, _event, ctx) => ctx.complete(),
  },
  timers: {
    silence: async (state, ctx) => {
      await ctx.send({
        aggregate: Battery,
        command: 'orderDischarge',
        aggregateId: ctx.workflowId,
        input: { kw: 0 },
      })
      return { ...state, silences: state.silences + 1 }
    },
  },
})
