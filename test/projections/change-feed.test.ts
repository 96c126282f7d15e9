import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ReadModelSource, RowChange } from '../../framework/read-model/read-model-source.ts'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import { Battery, BatteryStatusRow, batteryStatus, charge, installed, removed } from './battery-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'

const running: ProjectionReadSide[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((readSide) => readSide.stop()))
})

async function setUp(members = [batteryStatus()], store = createInMemoryEventStore()) {
  const readSide = await openReadSide(store, { projections: members })
  running.push(readSide)
  await readSide.start()
  const model = readSide.sources[0] as ReadModelSource<BatteryStatusRow>
  return { store, readSide, model }
}

async function take<T>(iterable: AsyncIterable<T>, count: number): Promise<T[]> {
  const items: T[] = []
  if (count === 0) return items
  for await (const item of iterable) {
    items.push(item)
    if (items.length === count) break
  }
  return items
}

const summary = (change: RowChange<BatteryStatusRow>) => `${change.kind} ${change.key}`

describe('the change feed', () => {
  it('publishes each change in log order, stamped with the position of its event', async () => {
    const { store, model } = await setUp()
    const feed = take(model.changes(), 4)
    const first = await store.appendToStream('Battery-b1', [installed('s1')])
    const second = await store.appendToStream('Battery-b2', [installed('s1')])
    await store.appendToStream('Battery-b1', [charge(5)])
    const last = await store.appendToStream('Battery-b1', [removed()])
    const changes = await feed
    expect(changes.map(summary)).toEqual(['created b1', 'created b2', 'updated b1', 'deleted b1'])
    expect(changes[0]!.position).toBe(first.position)
    expect(changes[1]!.position).toBe(second.position)
    expect(changes[3]!.position).toBe(last.position)
    expect(changes[2]).toMatchObject({ previous: { percent: 0 }, row: { percent: 5 } })
  })

  it('replays the changes after a position, then goes live, so a reconnecting reader misses nothing', async () => {
    const { store, model } = await setUp()
    const seen = await store.appendToStream('Battery-b1', [installed('s1')])
    await store.appendToStream('Battery-b1', [charge(10)])
    await model.waitFor(await store.headPosition(), 1_000)
    const feed = take(model.changes({ after: seen.position }), 2)
    await store.appendToStream('Battery-b1', [charge(20)])
    expect((await feed).map((change) => (change.kind === 'updated' ? change.row.percent : -1))).toEqual([
      10, 20,
    ])
  })

  it('follows one key only, or the rows a filter selects, including a row that leaves the filter', async () => {
    const { store, model } = await setUp()
    const byKey = take(model.changes({ key: 'b2' }), 2)
    const bySite = take(model.changes({ where: { percent: { gte: 50 } } }), 2)
    await store.appendToStream('Battery-b1', [installed('s1'), charge(60)])
    await store.appendToStream('Battery-b2', [installed('s2'), charge(70)])
    await store.appendToStream('Battery-b1', [charge(10)])
    expect((await byKey).map(summary)).toEqual(['created b2', 'updated b2'])
    const filtered = await bySite
    expect(filtered.map(summary)).toEqual(['updated b1', 'updated b2'])
  })

  it('fails with CHANGES_EXPIRED when asked to resume before the changes it still holds', async () => {
    const small = defineProjection({
      name: 'small',
      row: BatteryStatusRow.pick({ batteryId: true, percent: true }),
      key: 'batteryId',
      from: [Battery],
      changeRetention: 2,
      handlers: {
        BatteryInstalled: (_row, _event, { key }) => ({ batteryId: key, percent: 0 }),
        ChargeReported: (row, { data }) => row && { ...row, percent: data.percent },
      },
    })
    const store = createInMemoryEventStore()
    const readSide = await openReadSide(store, { projections: [small] })
    running.push(readSide)
    await readSide.start()
    const first = await store.appendToStream('Battery-b1', [installed('s1')])
    const last = await store.appendToStream('Battery-b1', [charge(1), charge(2), charge(3)])
    const model = readSide.sources[0]!
    await model.waitFor(last.position, 1_000)
    await expect(take(model.changes({ after: first.position }), 1)).rejects.toMatchObject({
      code: 'CHANGES_EXPIRED',
    })
  })

  it('keeps no more than changeRetentionBytes of rows: resuming before them is CHANGES_EXPIRED', async () => {
    // Each row carries over 1 KB, so 4 KB of retention keeps fewer than the last five changes of twenty.
    const wide = defineProjection({
      name: 'wide',
      row: BatteryStatusRow.pick({ batteryId: true, percent: true }).extend({ note: z.string() }),
      key: 'batteryId',
      from: [Battery],
      changeRetentionBytes: 4_000,
      handlers: {
        BatteryInstalled: (_row, _event, { key }) => ({
          batteryId: key,
          percent: 0,
          note: 'n'.repeat(1_000),
        }),
        ChargeReported: (row, { data }) => row && { ...row, percent: data.percent },
      },
    })
    const store = createInMemoryEventStore()
    const readSide = await openReadSide(store, { projections: [wide] })
    running.push(readSide)
    await readSide.start()
    const model = readSide.sources[0] as ReadModelSource<BatteryStatusRow>
    // A live reader, so every change is recorded rather than skipped while the model catches up.
    const live = take(model.changes(), 21)
    await store.appendToStream('Battery-b1', [installed('s1')])
    const positions: bigint[] = []
    for (let percent = 1; percent <= 20; percent++)
      positions.push((await store.appendToStream('Battery-b1', [charge(percent)])).position)
    expect(await live).toHaveLength(21)
    await expect(take(model.changes({ after: positions[14]! }), 1)).rejects.toMatchObject({
      code: 'CHANGES_EXPIRED',
    })
    const kept = await take(model.changes({ after: positions[17]! }), 2)
    expect(kept.map((change) => (change.kind === 'updated' ? change.row.percent : -1))).toEqual([19, 20])
  })

  it('retains no change made while it catches up unread: resuming before them is CHANGES_EXPIRED', async () => {
    const store = createInMemoryEventStore()
    const first = await store.appendToStream('Battery-b1', [installed('s1')])
    await store.appendToStream('Battery-b1', [charge(10)])
    const { model } = await setUp([batteryStatus()], store)
    await model.waitFor(await store.headPosition(), 1_000)
    await expect(take(model.changes({ after: first.position }), 1)).rejects.toMatchObject({
      code: 'CHANGES_EXPIRED',
    })
    const live = take(model.changes({ after: (await model.list()).position }), 1)
    await store.appendToStream('Battery-b1', [charge(20)])
    expect((await live).map(summary)).toEqual(['updated b1'])
  })

  it('ends cleanly when the reader aborts', async () => {
    const { store, model } = await setUp()
    const abort = new AbortController()
    const seen: string[] = []
    const reading = (async () => {
      for await (const change of model.changes({ signal: abort.signal })) {
        seen.push(summary(change))
        abort.abort()
      }
    })()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(3)])
    await reading
    expect(seen).toEqual(['created b1'])
  })
})
