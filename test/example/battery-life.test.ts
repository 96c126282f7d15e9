import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INSTALL, startPowerPlant, type PowerPlant } from './power-plant-harness.ts'

const STATUS = `query($id: ID!, $token: String) {
  batteryStatus(batteryId: $id, consistentWith: $token) { status energyKwh powerKw availableKwh faultCode }
}`

describe('the power plant, through GraphQL over HTTP', () => {
  let plant: PowerPlant
  beforeAll(async () => {
    plant = await startPowerPlant()
  })
  afterAll(() => plant.close())

  it('follows a battery from installation to decommissioning, reading each write with its token', async () => {
    const steps: [string, Record<string, unknown>][] = [
      [
        'mutation { reportTelemetry(id: "life-1", input: { energyKwh: 4 }) { token } }',
        { status: 'idle', energyKwh: 4 },
      ],
      [
        'mutation { startCharging(id: "life-1", input: { powerKw: 3 }) { token } }',
        { status: 'charging', powerKw: 3 },
      ],
      ['mutation { stopPower(id: "life-1") { token } }', { status: 'idle', powerKw: 0 }],
      [
        'mutation { startDischarging(id: "life-1", input: { powerKw: 2 }) { token } }',
        { status: 'discharging', powerKw: 2 },
      ],
      [
        'mutation { reportFault(id: "life-1", input: { code: "OVERHEAT", message: "70 °C" }) { token } }',
        { status: 'faulted', faultCode: 'OVERHEAT' },
      ],
      ['mutation { clearFault(id: "life-1") { token } }', { status: 'idle', faultCode: null }],
      [
        'mutation { decommission(id: "life-1", input: { reason: "end of life" }) { token } }',
        { status: 'decommissioned' },
      ],
    ]
    const installed = await plant.run<{ installBattery: { token: string } }>(INSTALL, {
      id: 'life-1',
      siteId: 'site-life',
      energyKwh: 6,
    })
    expect(installed['installBattery']).toMatchObject({ aggregateId: 'life-1', revision: '0' })
    let token = installed.installBattery.token
    expect((await plant.run(STATUS, { id: 'life-1', token }))['batteryStatus']).toMatchObject({
      status: 'idle',
      energyKwh: 6,
      availableKwh: 4,
    })

    for (const [mutation, expected] of steps) {
      const data = await plant.run(mutation)
      token = (Object.values(data)[0] as { token: string }).token
      // No waiting here: consistentWith makes the query wait until the read model has the write.
      expect((await plant.run(STATUS, { id: 'life-1', token }))['batteryStatus']).toMatchObject(expected)
    }

    const history = await plant.run<{ batteryHistory: { entries: { type: string }[] } }>(
      `{ batteryHistory(batteryId: "life-1", consistentWith: "${token}") { entries { type revision } } }`,
    )
    expect(history.batteryHistory.entries.map((entry) => entry.type)).toEqual([
      'BatteryInstalled',
      'TelemetryReported',
      'ChargingStarted',
      'PowerStopped',
      'DischargingStarted',
      'FaultReported',
      'FaultCleared',
      'BatteryDecommissioned',
    ])
  })

  it.each([
    [
      'BATTERY_NOT_INSTALLED',
      'mutation { startCharging(id: "never-installed", input: { powerKw: 1 }) { token } }',
      [],
    ],
    ['BATTERY_ALREADY_INSTALLED', INSTALL, ['install']],
    [
      'CHARGE_ABOVE_CAPACITY',
      'mutation { reportTelemetry(id: "%ID%", input: { energyKwh: 11 }) { token } }',
      ['install'],
    ],
    [
      'BATTERY_FULL',
      'mutation { startCharging(id: "%ID%", input: { powerKw: 1 }) { token } }',
      ['install', 'full'],
    ],
    [
      'POWER_ABOVE_MAXIMUM',
      'mutation { startDischarging(id: "%ID%", input: { powerKw: 6 }) { token } }',
      ['install'],
    ],
    [
      'BATTERY_EMPTY',
      'mutation { startDischarging(id: "%ID%", input: { powerKw: 1 }) { token } }',
      ['install', 'empty'],
    ],
    [
      'BELOW_RESERVE',
      'mutation { startDischarging(id: "%ID%", input: { powerKw: 1 }) { token } }',
      ['install', 'reserve'],
    ],
    ['BATTERY_IDLE', 'mutation { stopPower(id: "%ID%") { token } }', ['install']],
    [
      'BATTERY_FAULTED',
      'mutation { startCharging(id: "%ID%", input: { powerKw: 1 }) { token } }',
      ['install', 'fault'],
    ],
    ['NOT_FAULTED', 'mutation { clearFault(id: "%ID%") { token } }', ['install']],
    [
      'BATTERY_DECOMMISSIONED',
      'mutation { reportTelemetry(id: "%ID%", input: { energyKwh: 1 }) { token } }',
      ['install', 'retire'],
    ],
    ['BAD_INPUT', 'mutation { startCharging(id: "%ID%", input: { powerKw: -1 }) { token } }', ['install']],
  ])('refuses with %s', async (code, mutation, history) => {
    const id = `refusal-${code}`
    const setup: Record<string, string> = {
      full: `mutation { reportTelemetry(id: "${id}", input: { energyKwh: 10 }) { token } }`,
      empty: `mutation { reportTelemetry(id: "${id}", input: { energyKwh: 0 }) { token } }`,
      reserve: `mutation { reportTelemetry(id: "${id}", input: { energyKwh: 2 }) { token } }`,
      fault: `mutation { reportFault(id: "${id}", input: { code: "X", message: "broken" }) { token } }`,
      retire: `mutation { decommission(id: "${id}", input: { reason: "old" }) { token } }`,
    }
    for (const step of history) {
      if (step === 'install') await plant.run(INSTALL, { id, siteId: 'site-refusals', energyKwh: 6 })
      else await plant.run(setup[step]!)
    }
    const errors = await plant.refuse(mutation.replace('%ID%', id), {
      id,
      siteId: 'site-refusals',
      energyKwh: 6,
    })
    expect(errors.map((error) => error.extensions.code)).toEqual([code])
  })

  it('reports bad input field by field and appends nothing', async () => {
    const errors = await plant.refuse(
      'mutation { installBattery(id: "bad-1", input: { siteId: "", region: "north", capacityKwh: -5, maxPowerKw: 5 }) { token } }',
    )
    expect(errors[0]?.extensions.code).toBe('BAD_INPUT')
    const paths = (errors[0]?.extensions['issues'] as { path: string[] }[]).map((issue) =>
      issue.path.join('.'),
    )
    expect(paths).toEqual(expect.arrayContaining(['input.siteId', 'input.capacityKwh']))
    const status = await plant.run('{ batteryStatus(batteryId: "bad-1") { status } }')
    expect(status['batteryStatus']).toBeNull()
  })
})
