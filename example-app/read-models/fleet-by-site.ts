import { z } from 'zod'
import { defineProjection } from 'annals/projections'
import { Battery, BatteryStatus, reserveKwh } from '../domain/battery.ts'

const Unit = z.object({
  status: BatteryStatus,
  capacityKwh: z.number(),
  maxPowerKw: z.number(),
  reservePercent: z.number(),
  energyKwh: z.number(),
})
type Unit = z.infer<typeof Unit>

/** One row per site: the fleet's capacity, stored energy and the power it can give the grid now. */
export const SiteFleetRow = z.object({
  siteId: z.string(),
  region: z.string(),
  batteries: z.number().int(),
  capacityKwh: z.number(),
  energyKwh: z.number(),
  availablePowerKw: z.number().describe('Power the idle, charged batteries of the site can discharge now.'),
  chargingUnits: z.number().int(),
  dischargingUnits: z.number().int(),
  faultedUnits: z.number().int(),
  units: z.record(z.string(), Unit).describe('Each battery of the site, by id.'),
})
export type SiteFleetRow = z.infer<typeof SiteFleetRow>

/** Every battery event names its site, so each one folds into the site's row. */
const bySite = { key: (event: { data: { siteId: string } }) => event.data.siteId }

export const fleetBySite = defineProjection({
  name: 'fleetBySite',
  description: 'The fleet of each site: capacity, energy stored, power available and faulted units.',
  row: SiteFleetRow,
  key: 'siteId',
  from: [Battery],
  indexes: ['region'],
  handlers: {
    BatteryInstalled: {
      ...bySite,
      handle: (row, { data }, { aggregateId }) =>
        withUnit(row ?? emptySite(data.siteId, data.region), aggregateId, { ...data, status: 'idle' }),
    },
    TelemetryReported: {
      ...bySite,
      handle: (row, { data }, ctx) => updateUnit(row, ctx.aggregateId, { energyKwh: data.energyKwh }),
    },
    ChargingStarted: {
      ...bySite,
      handle: (row, _e, ctx) => updateUnit(row, ctx.aggregateId, { status: 'charging' }),
    },
    DischargingStarted: {
      ...bySite,
      handle: (row, _e, ctx) => updateUnit(row, ctx.aggregateId, { status: 'discharging' }),
    },
    PowerStopped: {
      ...bySite,
      handle: (row, _e, ctx) => updateUnit(row, ctx.aggregateId, { status: 'idle' }),
    },
    FaultReported: {
      ...bySite,
      handle: (row, _e, ctx) => updateUnit(row, ctx.aggregateId, { status: 'faulted' }),
    },
    FaultCleared: {
      ...bySite,
      handle: (row, _e, ctx) => updateUnit(row, ctx.aggregateId, { status: 'idle' }),
    },
    BatteryDecommissioned: {
      ...bySite,
      handle: (row, _e, ctx) => {
        if (!row) return row
        const { [ctx.aggregateId]: _gone, ...units } = row.units
        return totals({ ...row, units })
      },
    },
  },
})

function emptySite(siteId: string, region: string): SiteFleetRow {
  return totals({ siteId, region, units: {} })
}

function withUnit(row: SiteFleetRow, batteryId: string, unit: Unit): SiteFleetRow {
  return totals({ ...row, units: { ...row.units, [batteryId]: unit } })
}

function updateUnit(
  row: SiteFleetRow | undefined,
  batteryId: string,
  change: Partial<Unit>,
): SiteFleetRow | undefined {
  const unit = row?.units[batteryId]
  return row && unit && withUnit(row, batteryId, { ...unit, ...change })
}

function totals(site: Pick<SiteFleetRow, 'siteId' | 'region' | 'units'>): SiteFleetRow {
  const units = Object.values(site.units)
  const sum = (of: (unit: Unit) => number) => units.reduce((total, unit) => total + of(unit), 0)
  const count = (status: Unit['status']) => units.filter((unit) => unit.status === status).length
  return {
    ...site,
    batteries: units.length,
    capacityKwh: sum((unit) => unit.capacityKwh),
    energyKwh: sum((unit) => unit.energyKwh),
    availablePowerKw: sum((unit) =>
      unit.status === 'idle' && unit.energyKwh > reserveKwh(unit) ? unit.maxPowerKw : 0,
    ),
    chargingUnits: count('charging'),
    dischargingUnits: count('discharging'),
    faultedUnits: count('faulted'),
  }
}
