// The plant at its GraphQL boundary: given events, when a client's operation, then the reply and the events.
import { describe, expect, it } from 'vitest'
import { gatewaySpec } from 'annals/testing'
import { app } from './app.ts'

const plant = gatewaySpec(app)
const installed = {
  aggregateId: 'b1',
  type: 'BatteryInstalled',
  data: {
    siteId: 'site-1',
    region: 'north',
    capacityKwh: 10,
    maxPowerKw: 5,
    reservePercent: 20,
    energyKwh: 6,
  },
}

describe('the plant over GraphQL', () => {
  it('charges an installed battery', async () => {
    const outcome = await plant
      .given([installed])
      .when('mutation { startCharging(id: "b1", input: { powerKw: 3 }) { revision } }')
    outcome.thenData({ startCharging: { revision: '1' } }).thenAppended([
      {
        aggregate: 'Battery',
        aggregateId: 'b1',
        type: 'ChargingStarted',
        data: { siteId: 'site-1', powerKw: 3 },
      },
    ])
  })

  it('refuses more power than the battery has, and appends nothing', async () => {
    const outcome = await plant
      .given([installed])
      .when('mutation { startCharging(id: "b1", input: { powerKw: 50 }) { revision } }')
    outcome.thenError('POWER_ABOVE_MAXIMUM').thenNothingAppended()
  })

  it('answers a query from the read model the history built', async () => {
    const outcome = await plant
      .given([
        installed,
        { aggregateId: 'b1', type: 'ChargingStarted', data: { siteId: 'site-1', powerKw: 2 } },
      ])
      .when('{ batteryStatus(batteryId: "b1") { status powerKw availableKwh } }')
    outcome.thenData({ batteryStatus: { status: 'charging', powerKw: 2, availableKwh: 4 } })
    expect(outcome.reply.status).toBe(200)
  })

  it('queries once the read models have read the whole history, however long', async () => {
    const telemetry = Array.from({ length: 2_000 }, (_, n) => ({
      aggregateId: 'b1',
      type: 'TelemetryReported',
      data: { siteId: 'site-1', energyKwh: n / 1_000 },
    }))
    const outcome = await plant
      .given([installed, ...telemetry])
      .when('{ batteryStatus(batteryId: "b1") { energyKwh } }')
    outcome.thenData({ batteryStatus: { energyKwh: 1.999 } })
  })
})
