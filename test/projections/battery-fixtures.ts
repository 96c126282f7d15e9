import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import { defineAggregate } from '../../framework/aggregate/define-aggregate.ts'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { defineProjection } from '../../projections/define-projection.ts'

/** A small battery twin: installed at a site, reports its charge, can be removed. */
export const Battery = defineAggregate({
  name: 'Battery',
  state: z.object({ installed: z.boolean() }),
  initialState: { installed: false },
  events: {
    BatteryInstalled: z.object({ siteId: z.string(), capacityKwh: z.number() }),
    ChargeReported: z.object({ percent: z.number() }),
    BatteryRemoved: z.object({}),
    DischargeOrdered: z.object({ kw: z.number() }),
  },
  commands: {
    orderDischarge: {
      input: z.object({ kw: z.number() }),
      decide: (_state, { kw }) => ({ type: 'DischargeOrdered', data: { kw } }),
    },
  },
  evolve: {
    BatteryInstalled: () => ({ installed: true }),
    ChargeReported: (state) => state,
    BatteryRemoved: () => ({ installed: false }),
    DischargeOrdered: (state) => state,
  },
})

/** A grid that raises demand; the dispatcher reactor answers it. */
export const Grid = defineAggregate({
  name: 'Grid',
  state: z.object({}),
  initialState: {},
  events: { DemandRaised: z.object({ kw: z.number() }), Noise: z.object({ n: z.number() }) },
  commands: {},
  evolve: { DemandRaised: (state) => state, Noise: (state) => state },
})

export const BatteryStatusRow = z.object({
  batteryId: z.string(),
  siteId: z.string(),
  capacityKwh: z.number(),
  percent: z.number(),
  reports: z.number(),
})
export type BatteryStatusRow = z.infer<typeof BatteryStatusRow>

/** The row of a battery just installed: nothing reported yet. */
export const installedBatteryRow = (
  batteryId: string,
  data: { readonly siteId: string; readonly capacityKwh: number },
): BatteryStatusRow => ({
  batteryId,
  siteId: data.siteId,
  capacityKwh: data.capacityKwh,
  percent: 0,
  reports: 0,
})

export const batteryStatus = (options: { version?: number; validateRows?: boolean } = {}) =>
  defineProjection({
    name: 'batteryStatus',
    row: BatteryStatusRow,
    key: 'batteryId',
    from: [Battery],
    indexes: ['siteId'],
    version: options.version ?? 1,
    ...(options.validateRows === undefined ? {} : { validateRows: options.validateRows }),
    retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 5 },
    handlers: {
      BatteryInstalled: (_row, { data }, { key }) => installedBatteryRow(key, data),
      ChargeReported: (row, { data }) => row && { ...row, percent: data.percent, reports: row.reports + 1 },
      BatteryRemoved: () => null,
    },
  })

export const SiteCapacityRow = z.object({
  siteId: z.string(),
  batteries: z.number(),
  capacityKwh: z.number(),
})

/** A fan-in model: one row per site, keyed by a field of the event rather than the aggregate id. */
export const siteCapacity = defineProjection({
  name: 'siteCapacity',
  row: SiteCapacityRow,
  key: 'siteId',
  from: [Battery],
  handlers: {
    BatteryInstalled: {
      key: (event) => event.data.siteId,
      handle: (row, { data }, { key }) => ({
        siteId: key,
        batteries: (row?.batteries ?? 0) + 1,
        capacityKwh: (row?.capacityKwh ?? 0) + data.capacityKwh,
      }),
    },
  },
})

export const installed = (siteId: string, capacityKwh = 10) => ({
  id: randomUUID(),
  type: 'BatteryInstalled',
  data: { siteId, capacityKwh },
})
export const charge = (percent: number) => ({ id: randomUUID(), type: 'ChargeReported', data: { percent } })
export const removed = () => ({ id: randomUUID(), type: 'BatteryRemoved', data: {} })
export const noise = (n: number) => ({ id: randomUUID(), type: 'Noise', data: { n } })

/** The batteryStatus model computed directly from the log: what the projection must equal. */
export async function foldBatteryStatus(store: EventStore): Promise<Map<string, BatteryStatusRow>> {
  const rows = new Map<string, BatteryStatusRow>()
  for await (const event of store.readAll()) {
    if (!event.streamName.startsWith('Battery-')) continue
    const id = event.streamName.slice('Battery-'.length)
    const data = event.data as { siteId: string; capacityKwh: number; percent: number }
    const row = rows.get(id)
    if (event.type === 'BatteryInstalled') {
      rows.set(id, {
        batteryId: id,
        siteId: data.siteId,
        capacityKwh: data.capacityKwh,
        percent: 0,
        reports: 0,
      })
    } else if (event.type === 'ChargeReported' && row) {
      rows.set(id, { ...row, percent: data.percent, reports: row.reports + 1 })
    } else if (event.type === 'BatteryRemoved') rows.delete(id)
  }
  return rows
}
