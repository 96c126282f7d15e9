import { createHash, randomUUID } from 'node:crypto'
import { z } from 'zod'
import { defineAggregate } from '../../framework/aggregate/define-aggregate.ts'
import type { CommandBus, CommandEnvelope, CommandResult } from '../../framework/command/command-bus.ts'
import { StoreUnavailableError } from '../../framework/errors.ts'
import type {
  EventStore,
  RecordedEvent,
  SubscriptionMessage,
} from '../../framework/event-store/event-store.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import { createInMemoryReadModelStore } from '../../projections/in-memory-read-model-store.ts'
import type { HeldKey, ReadModelStore } from '../../projections/read-model-store.ts'

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
      BatteryInstalled: (_row, { data }, { key }) => ({
        batteryId: key,
        siteId: data.siteId,
        capacityKwh: data.capacityKwh,
        percent: 0,
        reports: 0,
      }),
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

/** A command bus that appends one event per command with ids derived from the command id, as the pipeline does. */
export function createTestCommandBus(
  store: EventStore,
): CommandBus & { readonly executed: CommandEnvelope[] } {
  const executed: CommandEnvelope[] = []
  return {
    executed,
    async execute(envelope): Promise<CommandResult> {
      executed.push(envelope)
      const commandId = envelope.commandId ?? randomUUID()
      const type = envelope.command === 'orderDischarge' ? 'DischargeOrdered' : envelope.command
      const id = uuidFrom(`${commandId}/0`)
      const result = await store.appendToStream(`${envelope.aggregate}-${envelope.aggregateId}`, [
        { id, type, data: envelope.input },
      ])
      const event = {
        id,
        type,
        data: envelope.input,
        revision: result.nextRevision,
        position: result.position,
      }
      return {
        aggregateId: envelope.aggregateId,
        commandId,
        revision: result.nextRevision,
        events: [event],
        position: result.position,
      }
    },
  }
}

function uuidFrom(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

export async function collectAll(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = []
  for await (const event of store.readAll()) all.push(event)
  return all
}

/** Reads every row of a source, page by page. */
export async function allRows<TRow>(source: {
  list(query: {
    first: number
    after?: string
  }): Promise<{ rows: readonly TRow[]; endCursor: string | undefined; hasNextPage: boolean }>
}): Promise<TRow[]> {
  const rows: TRow[] = []
  let after: string | undefined
  for (;;) {
    const page = await source.list({ first: 100, ...(after === undefined ? {} : { after }) })
    rows.push(...page.rows)
    if (!page.hasNextPage) return rows
    after = page.endCursor
  }
}

/** Wraps a store so that a test can make the next subscriptions fail, as an unreachable store would. */
export function withUnavailableSubscriptions(
  store: EventStore,
): EventStore & { failNextSubscribes(n: number): void } {
  let failures = 0
  return {
    ...store,
    appendToStream: store.appendToStream.bind(store),
    readStream: store.readStream.bind(store),
    readAll: store.readAll.bind(store),
    headPosition: store.headPosition.bind(store),
    getStreamMetadata: store.getStreamMetadata.bind(store),
    setStreamMetadata: store.setStreamMetadata.bind(store),
    close: store.close.bind(store),
    subscribeToAll(options) {
      if (failures > 0) {
        failures--
        const refused: AsyncIterable<SubscriptionMessage> = {
          [Symbol.asyncIterator]: () => ({
            next: () => Promise.reject(new StoreUnavailableError('the store is unavailable (injected)')),
          }),
        }
        return refused
      }
      return store.subscribeToAll(options)
    },
    failNextSubscribes(n) {
      failures = n
    },
  }
}

/** What a durable read-model store has on disk: the rows, the checkpoint and the held keys, saved together. */
export interface SavedModel<TRow> {
  readonly rows: Map<string, TRow>
  position: bigint
  version: number | undefined
  held: readonly HeldKey[]
}

export const emptySavedModel = <TRow>(): SavedModel<TRow> => ({
  rows: new Map(),
  position: 0n,
  version: undefined,
  held: [],
})

/**
 * Opens a read-model store over a saved model, as a durable store would: rows are cached in memory and
 * written to `saved` with the checkpoint on each commit, never between. Opening another store on the same
 * saved model is what the next process finds after a restart (or a crash after the last commit).
 */
export function openSavedStore<TRow>(saved: SavedModel<TRow>, key: string): ReadModelStore<TRow> {
  const cache = createInMemoryReadModelStore<TRow>({ key })
  for (const [rowKey, row] of saved.rows) cache.put(rowKey, row)
  if (saved.version !== undefined) cache.commit(saved.position, saved.version)
  let held = saved.held
  const dirty = new Set<string>()
  return {
    get position() {
      return cache.position
    },
    get version() {
      return cache.version
    },
    get size() {
      return cache.size
    },
    get held() {
      return held
    },
    get: (rowKey) => cache.get(rowKey),
    list: (query) => cache.list(query),
    put(rowKey, row) {
      cache.put(rowKey, row)
      dirty.add(rowKey)
    },
    delete(rowKey) {
      cache.delete(rowKey)
      dirty.add(rowKey)
    },
    commit(position, version, nextHeld) {
      cache.commit(position, version)
      if (nextHeld !== undefined) held = nextHeld
      for (const rowKey of dirty) {
        const row = cache.get(rowKey)
        if (row === undefined) saved.rows.delete(rowKey)
        else saved.rows.set(rowKey, row)
      }
      dirty.clear()
      saved.position = position
      saved.version = version
      saved.held = held
    },
    clear() {
      cache.clear()
      dirty.clear()
      held = []
      saved.rows.clear()
      saved.position = 0n
      saved.version = undefined
      saved.held = []
    },
  }
}
