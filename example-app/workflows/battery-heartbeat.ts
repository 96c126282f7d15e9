import { z } from 'zod'
import { errorCodes, isAnnalsError } from 'annals'
import { defineWorkflow } from 'annals/projections'
import { Battery } from '../domain/battery.ts'

/** How long a battery may stay silent before it is marked offline, by default. */
export const DEFAULT_OFFLINE_AFTER_MS = 5 * 60_000

/**
 * Watches each battery's telemetry: installed, it waits `offlineAfterMs` for a report; every report starts the
 * wait again; a silence that long marks the battery offline (its next report brings it back, and starts the
 * wait again). Decommissioning ends the watch.
 */
export function batteryHeartbeat(offlineAfterMs: number = DEFAULT_OFFLINE_AFTER_MS) {
  const expectReport = (ctx: { schedule(name: 'silence', due: { afterMs: number }): void }) =>
    ctx.schedule('silence', { afterMs: offlineAfterMs })
  return defineWorkflow({
    name: 'batteryHeartbeat',
    description: 'Marks a battery offline when it sends no telemetry for a while.',
    state: z.object({ lastSeenAt: z.string(), offline: z.boolean() }),
    initialState: { lastSeenAt: '', offline: false },
    from: [Battery],
    startsOn: ['BatteryInstalled'],
    handlers: {
      BatteryInstalled: (_state, _event, ctx) => {
        expectReport(ctx)
        return { lastSeenAt: ctx.now.toISOString(), offline: false }
      },
      TelemetryReported: (_state, _event, ctx) => {
        expectReport(ctx)
        return { lastSeenAt: ctx.now.toISOString(), offline: false }
      },
      BatteryDecommissioned: (_state, _event, ctx) => ctx.complete(),
    },
    timers: {
      silence: async (state, ctx) => {
        try {
          await ctx.send({
            aggregate: Battery,
            command: 'markOffline',
            aggregateId: ctx.workflowId,
            input: { silentForMs: offlineAfterMs },
          })
        } catch (error) {
          // A refusal (decommissioned meanwhile, offline already) is an answer; anything else is retried.
          if (!isAnnalsError(error) || error.code in errorCodes) throw error
        }
        return { ...state, offline: true }
      },
    },
  })
}
