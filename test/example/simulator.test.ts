import { afterEach, describe, expect, it } from 'vitest'
import { simulateFleet } from '../../example-app/simulate-fleet.ts'
import { startPowerPlant, type PowerPlant } from './power-plant-harness.ts'

let plant: PowerPlant | undefined
afterEach(async () => {
  await plant?.close()
  plant = undefined
})

/** Every roll picks stopPower, which an idle (just installed) battery refuses with BATTERY_IDLE. */
const alwaysStop = () => 0.9

describe('the simulator', () => {
  it('counts refusals by the domain and by the rate limit apart, by code', async () => {
    // A bucket of 10 for the 3 installs and the first stops; the rest of 20 stops in one second is rate-limited.
    plant = await startPowerPlant({ limits: { rateLimit: { burst: 10, perSecond: 1 } } })
    const tally = await simulateFleet({
      url: `${plant.url}/graphql`,
      batteries: 3,
      sites: 1,
      rate: 20,
      seconds: 1,
      random: alwaysStop,
    })
    expect(tally.sent).toBe(23)
    expect(tally.accepted).toBe(3)
    expect(Object.keys(tally.refused)).toEqual(['BATTERY_IDLE'])
    expect(Object.keys(tally.shed)).toEqual(['RATE_LIMITED'])
    expect(tally.refused['BATTERY_IDLE']! + tally.shed['RATE_LIMITED']!).toBe(20)
    expect(tally.failed).toEqual({})
  })

  it('counts answers that are neither the domain nor load shedding as other errors', async () => {
    plant = await startPowerPlant()
    const tally = await simulateFleet({
      url: `${plant.url}/no-graphql-here`,
      batteries: 2,
      sites: 1,
      rate: 3,
      seconds: 1,
      random: alwaysStop,
    })
    expect(tally).toEqual({ sent: 5, accepted: 0, refused: {}, shed: {}, failed: { HTTP_404: 5 } })
  })
})
