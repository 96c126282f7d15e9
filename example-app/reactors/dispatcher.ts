import { errorCodes, isAnnalsError } from 'annals'
import { defineReactor } from 'annals/projections'
import { Battery } from '../domain/battery.ts'
import { Dispatch } from '../domain/dispatch.ts'
import type { BatteryStatusRow } from '../read-models/battery-status.ts'

/** How many candidate batteries one dispatch looks at. */
const CANDIDATES = 200

/**
 * Answers a grid demand: picks idle batteries of the site or region with enough energy above their reserve
 * for the whole duration, tells each to discharge, records each on the dispatch, then closes it.
 */
export const dispatcher = defineReactor({
  name: 'dispatcher',
  description: 'Commands batteries to discharge when the grid operator requests power.',
  from: [Dispatch],
  handlers: {
    DispatchRequested: async ({ data }, context) => {
      const batteries = context.readModel<BatteryStatusRow>('batteryStatus')
      // Read the fleet at least as fresh as the request itself.
      await batteries.waitFor(context.position, 10_000)
      const where = {
        status: { eq: 'idle' },
        ...(data.siteId === undefined ? { region: { eq: data.region } } : { siteId: { eq: data.siteId } }),
      }
      const page = await batteries.list({
        where,
        orderBy: [{ field: 'availableKwh', direction: 'desc' }],
        first: CANDIDATES,
      })
      let remainingKw = data.powerKw
      for (const battery of page.rows) {
        if (remainingKw <= 0) break
        const powerKw = Math.min(battery.maxPowerKw, remainingKw)
        if (battery.availableKwh < (powerKw * data.durationMinutes) / 60) continue
        const started = await tryCommand(() =>
          context.send({
            aggregate: Battery,
            command: 'startDischarging',
            aggregateId: battery.batteryId,
            input: { powerKw, dispatchId: context.aggregateId },
          }),
        )
        if (!started) continue
        await context.send({
          aggregate: Dispatch,
          command: 'allocateBattery',
          aggregateId: context.aggregateId,
          input: { batteryId: battery.batteryId, powerKw },
        })
        remainingKw -= powerKw
      }
      await context.send({
        aggregate: Dispatch,
        command: 'completeDispatch',
        aggregateId: context.aggregateId,
        input: {},
      })
    },
  },
})

/** Runs a command that the battery may refuse (it changed since the read model saw it): false when refused. */
async function tryCommand(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run()
    return true
  } catch (error) {
    // A domain code (BATTERY_FAULTED, …) is a refusal; a framework code (store down, conflict) is retried.
    if (isAnnalsError(error) && !(error.code in errorCodes)) return false
    throw error
  }
}
