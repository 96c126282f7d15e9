import { z } from 'zod'
import { DomainError, defineAggregate } from 'annals'

/** A home battery as the grid operator sees it: a digital twin fed by telemetry and told what to do. */
export const BatteryStatus = z.enum([
  'uninstalled',
  'idle',
  'charging',
  'discharging',
  'faulted',
  'decommissioned',
])
export type BatteryStatus = z.infer<typeof BatteryStatus>

export const Battery = defineAggregate({
  name: 'Battery',
  description:
    'A home battery: installed at a site, charged and discharged on command, reporting its charge.',
  state: z.object({
    status: BatteryStatus,
    siteId: z.string(),
    region: z.string(),
    capacityKwh: z.number(),
    maxPowerKw: z.number(),
    reservePercent: z.number(),
    energyKwh: z.number(),
    powerKw: z.number(),
    faultedWhile: BatteryStatus.optional(),
    /** Set when the battery went silent (the heartbeat workflow marks it); its next telemetry clears it. */
    offline: z.boolean().optional(),
  }),
  initialState: {
    status: 'uninstalled',
    siteId: '',
    region: '',
    capacityKwh: 0,
    maxPowerKw: 0,
    reservePercent: 0,
    energyKwh: 0,
    powerKw: 0,
  },
  events: {
    BatteryInstalled: z.object({
      siteId: z.string(),
      region: z.string(),
      capacityKwh: z.number(),
      maxPowerKw: z.number(),
      reservePercent: z.number(),
      energyKwh: z.number(),
    }),
    TelemetryReported: z.object({ siteId: z.string(), energyKwh: z.number() }),
    ChargingStarted: z.object({ siteId: z.string(), powerKw: z.number() }),
    DischargingStarted: z.object({
      siteId: z.string(),
      powerKw: z.number(),
      dispatchId: z.string().exactOptional(),
    }),
    PowerStopped: z.object({ siteId: z.string() }),
    FaultReported: z.object({ siteId: z.string(), code: z.string(), message: z.string() }),
    FaultCleared: z.object({ siteId: z.string() }),
    BatteryDecommissioned: z.object({ siteId: z.string(), reason: z.string() }),
    BatteryWentOffline: z.object({ siteId: z.string(), silentForMs: z.number() }),
  },
  commands: {
    installBattery: {
      description: 'Installs a new battery at a site.',
      input: z.object({
        siteId: z.string().min(1).describe('The site (a home) the battery is installed at.'),
        region: z.string().min(1).describe('The grid region of the site.'),
        capacityKwh: z.number().positive().max(1000).describe('Usable capacity in kWh.'),
        maxPowerKw: z.number().positive().max(500).describe('Maximum charge or discharge power in kW.'),
        reservePercent: z.number().min(0).max(100).default(10).describe('Charge kept back for the home.'),
        energyKwh: z.number().min(0).default(0).describe('Energy stored at installation.'),
      }),
      decide: (state, input) => {
        if (state.status !== 'uninstalled')
          throw new DomainError('BATTERY_ALREADY_INSTALLED', 'The battery is already installed')
        if (input.energyKwh > input.capacityKwh) {
          throw new DomainError('CHARGE_ABOVE_CAPACITY', 'The stored energy cannot exceed the capacity')
        }
        return { type: 'BatteryInstalled', data: input }
      },
    },
    reportTelemetry: {
      description: 'Reports the energy the battery holds now.',
      input: z.object({ energyKwh: z.number().min(0).describe('Energy stored now, in kWh.') }),
      decide: (state, { energyKwh }) => {
        mustBeInService(state.status)
        if (energyKwh > state.capacityKwh) {
          throw new DomainError(
            'CHARGE_ABOVE_CAPACITY',
            `A reading of ${energyKwh} kWh exceeds the capacity of ${state.capacityKwh} kWh`,
          )
        }
        return { type: 'TelemetryReported', data: { siteId: state.siteId, energyKwh } }
      },
    },
    startCharging: {
      description: 'Tells the battery to charge at a power.',
      input: z.object({ powerKw: z.number().positive() }),
      decide: (state, { powerKw }) => {
        mustBeOperable(state.status)
        mustNotExceedMaximum(powerKw, state.maxPowerKw)
        if (state.energyKwh >= state.capacityKwh) throw new DomainError('BATTERY_FULL', 'The battery is full')
        return { type: 'ChargingStarted', data: { siteId: state.siteId, powerKw } }
      },
    },
    startDischarging: {
      description: 'Tells the battery to discharge into the grid at a power.',
      input: z.object({ powerKw: z.number().positive(), dispatchId: z.string().exactOptional() }),
      decide: (state, { powerKw, dispatchId }) => {
        mustBeOperable(state.status)
        mustNotExceedMaximum(powerKw, state.maxPowerKw)
        if (state.energyKwh <= 0) throw new DomainError('BATTERY_EMPTY', 'The battery is empty')
        if (state.energyKwh <= reserveKwh(state)) {
          throw new DomainError(
            'BELOW_RESERVE',
            `The battery holds ${state.energyKwh} kWh, at or below its reserve`,
          )
        }
        const data = { siteId: state.siteId, powerKw, ...(dispatchId === undefined ? {} : { dispatchId }) }
        return { type: 'DischargingStarted', data }
      },
    },
    stopPower: {
      description: 'Stops charging or discharging.',
      input: z.object({}),
      decide: (state) => {
        mustBeOperable(state.status)
        if (state.status === 'idle')
          throw new DomainError('BATTERY_IDLE', 'The battery is neither charging nor discharging')
        return { type: 'PowerStopped', data: { siteId: state.siteId } }
      },
    },
    reportFault: {
      description: 'Reports a fault; the battery takes no orders until it is cleared.',
      input: z.object({ code: z.string().min(1), message: z.string() }),
      decide: (state, input) => {
        mustBeInService(state.status)
        if (state.status === 'faulted')
          throw new DomainError('BATTERY_FAULTED', 'The battery is already faulted')
        return { type: 'FaultReported', data: { siteId: state.siteId, ...input } }
      },
    },
    clearFault: {
      description: 'Clears a fault; the battery comes back idle.',
      input: z.object({}),
      decide: (state) => {
        mustBeInService(state.status)
        if (state.status !== 'faulted')
          throw new DomainError('NOT_FAULTED', 'The battery has no fault to clear')
        return { type: 'FaultCleared', data: { siteId: state.siteId } }
      },
    },
    decommission: {
      description: 'Takes the battery out of service for good.',
      input: z.object({ reason: z.string().min(1) }),
      decide: (state, { reason }) => {
        mustBeInService(state.status)
        return { type: 'BatteryDecommissioned', data: { siteId: state.siteId, reason } }
      },
    },
    markOffline: {
      description:
        'Marks the battery offline: it has sent no telemetry for a while. Its next telemetry brings it back.',
      input: z.object({
        silentForMs: z.number().int().positive().describe('How long it has been silent, in ms.'),
      }),
      decide: (state, { silentForMs }) => {
        mustBeInService(state.status)
        if (state.offline === true) throw new DomainError('BATTERY_OFFLINE', 'The battery is offline already')
        return { type: 'BatteryWentOffline', data: { siteId: state.siteId, silentForMs } }
      },
    },
  },
  evolve: {
    BatteryInstalled: (state, data) => ({ ...state, ...data, status: 'idle' }),
    TelemetryReported: (state, { energyKwh }) => ({ ...state, energyKwh, offline: false }),
    ChargingStarted: (state, { powerKw }) => ({ ...state, status: 'charging', powerKw }),
    DischargingStarted: (state, { powerKw }) => ({ ...state, status: 'discharging', powerKw }),
    PowerStopped: (state) => ({ ...state, status: 'idle', powerKw: 0 }),
    FaultReported: (state) => ({ ...state, status: 'faulted', powerKw: 0 }),
    FaultCleared: (state) => ({ ...state, status: 'idle' }),
    BatteryDecommissioned: (state) => ({ ...state, status: 'decommissioned', powerKw: 0 }),
    BatteryWentOffline: (state) => ({ ...state, offline: true }),
  },
  snapshotEvery: 200,
})

/** The energy a battery keeps back for its home, in kWh. */
export function reserveKwh(battery: { capacityKwh: number; reservePercent: number }): number {
  return (battery.capacityKwh * battery.reservePercent) / 100
}

function mustBeInService(status: BatteryStatus): void {
  if (status === 'uninstalled') throw new DomainError('BATTERY_NOT_INSTALLED', 'The battery is not installed')
  if (status === 'decommissioned')
    throw new DomainError('BATTERY_DECOMMISSIONED', 'The battery is decommissioned')
}

function mustBeOperable(status: BatteryStatus): void {
  mustBeInService(status)
  if (status === 'faulted') throw new DomainError('BATTERY_FAULTED', 'The battery is faulted')
}

function mustNotExceedMaximum(powerKw: number, maxPowerKw: number): void {
  if (powerKw > maxPowerKw) {
    throw new DomainError(
      'POWER_ABOVE_MAXIMUM',
      `${powerKw} kW is above the battery's maximum of ${maxPowerKw} kW`,
    )
  }
}
