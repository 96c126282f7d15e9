import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createDevStore, type DevStore } from '../../devstore/index.ts'
import type { EventStore, EventToAppend } from '../../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../../framework/event-store/eventstoredb-event-store.ts'
import type { ReadModelSource } from '../../framework/read-model/read-model-source.ts'
import type { AnyProjection, ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineReactor } from '../../projections/reactors/define-reactor.ts'
import { reactorCheckpointStream } from '../../projections/reactors/reactor-partition.ts'
import {
  Battery,
  batteryStatus,
  charge,
  foldBatteryStatus,
  Grid,
  installed,
  type BatteryStatusRow,
} from './battery-fixtures.ts'
import { collectAll, createTestCommandBus } from './event-store-fixtures.ts'
import { allRows } from './read-model-store-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function devStoreWithClient(): Promise<{ devStore: DevStore; store: EventStore }> {
  const devStore = await createDevStore({ port: 0 })
  const store = createEventStoreDbStore(devStore.connectionString)
  cleanups.push(async () => {
    await store.close()
    await devStore.close()
  })
  return { devStore, store }
}

async function started(
  store: EventStore,
  projections: readonly AnyProjection[],
): Promise<ProjectionReadSide> {
  const readSide = await openReadSide(store, {
    projections,
    resubscribeRetry: { initialDelayMs: 10, maxDelayMs: 100 },
  })
  cleanups.push(() => readSide.stop())
  return readSide
}

/** Appends until the store takes it: fixed event ids make a repeated append a no-op. */
async function appendSurely(store: EventStore, stream: string, events: readonly EventToAppend[]) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.appendToStream(stream, events)
    } catch (error) {
      if (attempt > 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

const sorted = (rows: Iterable<BatteryStatusRow>) =>
  [...rows].sort((a, b) => a.batteryId.localeCompare(b.batteryId))

describe('the read side on the devstore', () => {
  it('folds every event exactly once across appends during catch-up, dropped subscriptions and a restart', async () => {
    const { devStore, store } = await devStoreWithClient()
    for (let n = 0; n < 20; n++)
      await store.appendToStream(`Battery-b${n}`, [installed(`s${n % 3}`), charge(n)])
    const readSide = await started(store, [batteryStatus()])
    await readSide.start()
    for (let n = 0; n < 120; n++) {
      await appendSurely(store, `Battery-b${n % 20}`, [charge(n)])
      if (n === 30) devStore.faults.dropAllSubscriptions()
      if (n === 70) await devStore.faults.restart()
    }
    const model = readSide.sources[0] as ReadModelSource<BatteryStatusRow>
    await model.waitFor(await store.headPosition(), 10_000)
    // `reports` counts the charges folded into a row: a duplicate or a gap would show.
    expect(sorted(await allRows(model))).toEqual(sorted((await foldBatteryStatus(store)).values()))
    expect(model.status().state).toBe('live')
  })

  it('reacts to each demand once when appends fail for a while and the store restarts', async () => {
    const { devStore, store } = await devStoreWithClient()
    const commands = createTestCommandBus(store)
    const orders = defineReactor({
      name: 'orders',
      from: [Grid],
      handlers: {
        DemandRaised: async ({ data }, ctx) => {
          await ctx.send({
            aggregate: Battery,
            command: 'orderDischarge',
            aggregateId: ctx.aggregateId,
            input: data,
          })
        },
      },
    })
    const readSide = await openReadSide(store, {
      commands,
      reactors: [orders],
      resubscribeRetry: { initialDelayMs: 10, maxDelayMs: 100 },
    })
    cleanups.push(() => readSide.stop())
    await readSide.start()
    let last = 0n
    for (let n = 0; n < 10; n++) {
      const demand = { id: randomUUID(), type: 'DemandRaised', data: { kw: n } }
      last = (await appendSurely(store, `Grid-g${n}`, [demand])).position
      if (n === 3) devStore.faults.failNextAppends(3)
      if (n === 6) await devStore.faults.restart()
    }
    // Once the checkpoint covers the last demand, every reaction (and any repeat) has been appended.
    const signal = AbortSignal.timeout(10_000)
    for await (const message of store.subscribeToAll({ eventTypes: ['ReactorCheckpoint'], signal })) {
      if (message.kind !== 'event' || message.event.streamName !== reactorCheckpointStream('orders', '0'))
        continue
      if (BigInt((message.event.data as { position: string }).position) >= last) break
    }
    const ordered = (await collectAll(store)).filter((event) => event.type === 'DischargeOrdered')
    expect(ordered.map((event) => event.streamName).sort()).toEqual(
      Array.from({ length: 10 }, (_, n) => `Battery-g${n}`).sort(),
    )
  })
})
