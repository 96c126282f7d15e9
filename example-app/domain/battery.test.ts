import { describe, it } from 'vitest'
import { aggregateSpec } from 'annals/testing'
import { Battery } from './battery.ts'

const battery = aggregateSpec(Battery)
const site = { siteId: 'site-1' }
const installed = {
  type: 'BatteryInstalled',
  data: {
    siteId: 'site-1',
    region: 'north',
    capacityKwh: 10,
    maxPowerKw: 5,
    reservePercent: 20,
    energyKwh: 6,
  },
} as const
const holding = (energyKwh: number) => ({ type: 'TelemetryReported', data: { ...site, energyKwh } }) as const
const faulted = {
  type: 'FaultReported',
  data: { ...site, code: 'OVERHEAT', message: 'Cell at 70 °C' },
} as const
const decommissioned = { type: 'BatteryDecommissioned', data: { ...site, reason: 'end of life' } } as const

describe('a battery', () => {
  it('is installed at a site, idle, holding the energy it came with', () =>
    battery
      .when('installBattery', {
        siteId: 'site-1',
        region: 'north',
        capacityKwh: 10,
        maxPowerKw: 5,
        reservePercent: 20,
        energyKwh: 6,
      })
      .thenEmits([installed])
      .thenState((state) => {
        if (state.status !== 'idle' || state.energyKwh !== 6)
          throw new Error(`unexpected state ${JSON.stringify(state)}`)
      }))

  it('refuses to be installed twice', () =>
    battery
      .given([installed])
      .when('installBattery', { siteId: 's', region: 'r', capacityKwh: 1, maxPowerKw: 1 })
      .thenThrows('BATTERY_ALREADY_INSTALLED'))

  it('refuses commands before it is installed', () =>
    battery.when('startCharging', { powerKw: 1 }).thenThrows('BATTERY_NOT_INSTALLED'))

  it('refuses a telemetry reading above its capacity', () =>
    battery.given([installed]).when('reportTelemetry', { energyKwh: 11 }).thenThrows('CHARGE_ABOVE_CAPACITY'))

  it('charges below capacity', () =>
    battery
      .given([installed])
      .when('startCharging', { powerKw: 5 })
      .thenEmits([{ type: 'ChargingStarted', data: { ...site, powerKw: 5 } }]))

  it('refuses to charge past its capacity', () =>
    battery
      .given([installed, holding(10)])
      .when('startCharging', { powerKw: 1 })
      .thenThrows('BATTERY_FULL'))

  it('refuses power above its maximum', () =>
    battery.given([installed]).when('startDischarging', { powerKw: 6 }).thenThrows('POWER_ABOVE_MAXIMUM'))

  it('discharges for a dispatch while above its reserve', () =>
    battery
      .given([installed])
      .when('startDischarging', { powerKw: 3, dispatchId: 'd-1' })
      .thenEmits([{ type: 'DischargingStarted', data: { ...site, powerKw: 3, dispatchId: 'd-1' } }]))

  it('refuses to discharge when empty', () =>
    battery
      .given([installed, holding(0)])
      .when('startDischarging', { powerKw: 1 })
      .thenThrows('BATTERY_EMPTY'))

  it('refuses to discharge at or below its reserve', () =>
    battery
      .given([installed, holding(2)])
      .when('startDischarging', { powerKw: 1 })
      .thenThrows('BELOW_RESERVE'))

  it('refuses to stop when it is idle', () =>
    battery.given([installed]).when('stopPower', {}).thenThrows('BATTERY_IDLE'))

  it('takes no orders while faulted', () =>
    battery.given([installed, faulted]).when('startCharging', { powerKw: 1 }).thenThrows('BATTERY_FAULTED'))

  it('comes back idle when its fault is cleared', () =>
    battery
      .given([installed, faulted])
      .when('clearFault', {})
      .thenEmits([{ type: 'FaultCleared', data: site }])
      .thenState((state) => {
        if (state.status !== 'idle') throw new Error(`status is ${state.status}`)
      }))

  it('refuses to clear a fault it does not have', () =>
    battery.given([installed]).when('clearFault', {}).thenThrows('NOT_FAULTED'))

  it('takes nothing once decommissioned', () =>
    battery
      .given([installed, decommissioned])
      .when('reportTelemetry', { energyKwh: 1 })
      .thenThrows('BATTERY_DECOMMISSIONED'))

  it('refuses input that does not match the command schema', () =>
    battery.given([installed]).when('startCharging', { powerKw: -1 }).thenThrows('BAD_INPUT'))

  it('is marked offline once, and its next telemetry brings it back', () => {
    const offline = { type: 'BatteryWentOffline', data: { ...site, silentForMs: 300_000 } } as const
    battery.given([installed]).when('markOffline', { silentForMs: 300_000 }).thenEmits([offline])
    battery
      .given([installed, offline])
      .when('markOffline', { silentForMs: 300_000 })
      .thenThrows('BATTERY_OFFLINE')
    battery
      .given([installed, offline, holding(5)])
      .when('markOffline', { silentForMs: 300_000 })
      .thenEmits([offline])
  })
})
