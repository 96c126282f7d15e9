import { z } from 'zod'
import { defineProjection } from 'annals/projections'
import { Battery, BatteryStatus as Status, reserveKwh } from '../domain/battery.ts'

/** One row per battery: what it is doing now, filterable by site, region and status. */
export const BatteryStatusRow = z.object({
  batteryId: z.string(),
  siteId: z.string(),
  region: z.string(),
  status: Status,
  capacityKwh: z.number(),
  maxPowerKw: z.number(),
  reservePercent: z.number(),
  energyKwh: z.number(),
  powerKw: z.number(),
  availableKwh: z.number().describe('Energy above the reserve, which the grid may draw on.'),
  faultCode: z.string().exactOptional(),
  online: z
    .boolean()
    .describe('False once the battery has been silent too long; its next telemetry sets it again.'),
  updatedAt: z.date(),
})
export type BatteryStatusRow = z.infer<typeof BatteryStatusRow>

export const batteryStatus = defineProjection({
  name: 'batteryStatus',
  description: 'Each battery as it is now.',
  row: BatteryStatusRow,
  key: 'batteryId',
  from: [Battery],
  indexes: ['siteId', 'region', 'status'],
  handlers: {
    BatteryInstalled: (_row, { data }, { key, createdAt }) =>
      withAvailable({
        batteryId: key,
        ...data,
        status: 'idle',
        powerKw: 0,
        online: true,
        updatedAt: createdAt,
      }),
    TelemetryReported: (row, { data }, { createdAt }) =>
      row && withAvailable({ ...row, energyKwh: data.energyKwh, online: true, updatedAt: createdAt }),
    ChargingStarted: (row, { data }, { createdAt }) =>
      row && { ...row, status: 'charging', powerKw: data.powerKw, updatedAt: createdAt },
    DischargingStarted: (row, { data }, { createdAt }) =>
      row && { ...row, status: 'discharging', powerKw: data.powerKw, updatedAt: createdAt },
    PowerStopped: (row, _event, { createdAt }) =>
      row && { ...row, status: 'idle', powerKw: 0, updatedAt: createdAt },
    FaultReported: (row, { data }, { createdAt }) =>
      row && { ...row, status: 'faulted', powerKw: 0, faultCode: data.code, updatedAt: createdAt },
    FaultCleared: (row, _event, { createdAt }) => {
      if (!row) return row
      const { faultCode: _cleared, ...rest } = row
      return { ...rest, status: 'idle', updatedAt: createdAt }
    },
    BatteryDecommissioned: (row, _event, { createdAt }) =>
      row && { ...row, status: 'decommissioned', powerKw: 0, updatedAt: createdAt },
    BatteryWentOffline: (row, _event, { createdAt }) =>
      row && { ...row, online: false, updatedAt: createdAt },
  },
})

function withAvailable<TRow extends Omit<BatteryStatusRow, 'availableKwh'>>(
  row: TRow,
): TRow & { availableKwh: number } {
  return { ...row, availableKwh: Math.max(0, row.energyKwh - reserveKwh(row)) }
}
