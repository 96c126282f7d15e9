import { z } from 'zod'
import { defineProjection } from 'annals/projections'
import { Battery } from '../domain/battery.ts'

/** How many recent events a battery's history keeps. */
export const HISTORY_LENGTH = 50

const HistoryEntry = z.object({
  type: z.string(),
  revision: z.string(),
  position: z.string(),
  at: z.date(),
  summary: z.string(),
})
type HistoryEntry = z.infer<typeof HistoryEntry>

/** One row per battery: its most recent events, newest last, in words. */
export const BatteryHistoryRow = z.object({
  batteryId: z.string(),
  siteId: z.string(),
  entries: z.array(HistoryEntry),
})

const summaries = {
  BatteryInstalled: (data: { capacityKwh: number; maxPowerKw: number }) =>
    `Installed: ${data.capacityKwh} kWh, up to ${data.maxPowerKw} kW`,
  TelemetryReported: (data: { energyKwh: number }) => `Reported ${data.energyKwh} kWh stored`,
  ChargingStarted: (data: { powerKw: number }) => `Started charging at ${data.powerKw} kW`,
  DischargingStarted: (data: { powerKw: number; dispatchId?: string }) =>
    `Started discharging at ${data.powerKw} kW${data.dispatchId ? ` for dispatch ${data.dispatchId}` : ''}`,
  PowerStopped: () => 'Stopped',
  FaultReported: (data: { code: string; message: string }) => `Fault ${data.code}: ${data.message}`,
  FaultCleared: () => 'Fault cleared',
  BatteryDecommissioned: (data: { reason: string }) => `Decommissioned: ${data.reason}`,
  BatteryWentOffline: (data: { silentForMs: number }) =>
    `Offline: no telemetry for ${Math.round(data.silentForMs / 1000)} s`,
} as const

function record(type: keyof typeof summaries) {
  return (
    row: z.infer<typeof BatteryHistoryRow> | undefined,
    event: { data: { siteId: string } },
    context: { key: string; revision: bigint; position: bigint; createdAt: Date },
  ) => {
    const summary = (summaries[type] as (data: unknown) => string)(event.data)
    const entry: HistoryEntry = {
      type,
      revision: String(context.revision),
      position: String(context.position),
      at: context.createdAt,
      summary,
    }
    const entries = [...(row?.entries ?? []), entry].slice(-HISTORY_LENGTH)
    return { batteryId: context.key, siteId: event.data.siteId, entries }
  }
}

export const batteryHistory = defineProjection({
  name: 'batteryHistory',
  description: "Each battery's recent events, newest last.",
  row: BatteryHistoryRow,
  key: 'batteryId',
  from: [Battery],
  indexes: ['siteId'],
  handlers: {
    BatteryInstalled: record('BatteryInstalled'),
    TelemetryReported: record('TelemetryReported'),
    ChargingStarted: record('ChargingStarted'),
    DischargingStarted: record('DischargingStarted'),
    PowerStopped: record('PowerStopped'),
    FaultReported: record('FaultReported'),
    FaultCleared: record('FaultCleared'),
    BatteryWentOffline: record('BatteryWentOffline'),
    BatteryDecommissioned: record('BatteryDecommissioned'),
  },
})
