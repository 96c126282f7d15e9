import { afterEach, describe, expect, it } from 'vitest'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ReadModelSource } from '../../framework/read-model/read-model-source.ts'
import type { AnyProjection, ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import {
  Battery,
  BatteryStatusRow,
  batteryStatus,
  charge,
  foldBatteryStatus,
  installed,
  installedBatteryRow,
} from './battery-fixtures.ts'
import { allRows } from './read-model-store-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'

const running: ProjectionReadSide[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((readSide) => readSide.stop()))
})

async function setUp(members: readonly AnyProjection[] = [batteryStatus()]) {
  const store = createInMemoryEventStore()
  const readSide = await openReadSide(store, { projections: members })
  running.push(readSide)
  const model = readSide.sources[0] as ReadModelSource<BatteryStatusRow>
  const atHead = async () => model.waitFor(await store.headPosition(), 2_000)
  return { store, readSide, model, atHead }
}

const sorted = (rows: Iterable<BatteryStatusRow>) =>
  [...rows].sort((a, b) => a.batteryId.localeCompare(b.batteryId))

/** Version 2 of batteryStatus: the same rows, with the charge reported as a fraction rather than a percent. */
const batteryStatusV2 = defineProjection({
  name: 'batteryStatus',
  row: BatteryStatusRow,
  key: 'batteryId',
  from: [Battery],
  version: 2,
  handlers: {
    BatteryInstalled: (_row, { data }, { key }) => installedBatteryRow(key, data),
    ChargeReported: (row, { data }) =>
      row && { ...row, percent: data.percent / 100, reports: row.reports + 1 },
  },
})

describe('rebuilding a projection', () => {
  it('builds the new version in a shadow while the old one serves, and switches in one step', async () => {
    const { store, readSide, model, atHead } = await setUp()
    for (let n = 0; n < 300; n++) await store.appendToStream(`Battery-b${n}`, [installed('s1'), charge(50)])
    await readSide.start()
    await atHead()
    const seen: { version: number; rows: number; fractions: number }[] = []
    let switched = false
    const rebuilding = readSide
      .projection('batteryStatus')
      .rebuild(batteryStatusV2)
      .then(() => (switched = true))
    while (!switched) {
      const before = model.status().version
      const page = await model.list({ first: 1_000 })
      const fractions = page.rows.filter((row) => row.percent < 1).length
      // A read that straddles the switch cannot say which version it read.
      if (model.status().version === before) seen.push({ version: before, rows: page.rows.length, fractions })
      await store.appendToStream('Battery-late', [charge(10)])
      // A writer of the in-memory store never leaves the microtask queue; one over a network would: without
      // this turn, whether the shadow ever reaches the head depends only on which side's promises chain faster.
      await new Promise((resolve) => setImmediate(resolve))
    }
    await rebuilding
    // Every read saw a complete model: all of version 1, or all of version 2; never a half-built shadow.
    for (const read of seen) expect(read.fractions).toBe(read.version === 1 ? 0 : read.rows)
    expect(seen.every((read) => read.rows === 300)).toBe(true)
    expect(seen.some((read) => read.version === 1)).toBe(true)
    await atHead()
    expect(model.status()).toMatchObject({ version: 2, state: 'live' })
    expect((await model.get('b7'))?.percent).toBe(0.5)
  })

  it('publishes no replayed changes while the shadow builds, then the shadow changes after the switch', async () => {
    const { store, readSide, model, atHead } = await setUp()
    await store.appendToStream('Battery-b1', [installed('s1')])
    await readSide.start()
    await atHead()
    const changes: string[] = []
    const abort = new AbortController()
    const reading = (async () => {
      for await (const change of model.changes({ signal: abort.signal })) {
        changes.push(`${change.kind} ${change.key}`)
        if (change.key === 'b2') abort.abort()
      }
    })()
    await readSide.projection('batteryStatus').rebuild()
    await store.appendToStream('Battery-b2', [installed('s1')])
    await reading
    expect(changes).toEqual(['created b2'])
  })
})

describe('operating a projection', () => {
  it('pauses: reads keep serving the model as it was; resumes: catches up with the log', async () => {
    const { store, readSide, model, atHead } = await setUp()
    await store.appendToStream('Battery-b1', [installed('s1')])
    await readSide.start()
    await atHead()
    const control = readSide.projection('batteryStatus')
    control.pause()
    await store.appendToStream('Battery-b1', [charge(40)])
    await store.appendToStream('Battery-b2', [installed('s2')])
    expect(model.status().state).toBe('paused')
    expect(await model.get('b2')).toBeUndefined()
    control.resume()
    await atHead()
    expect(sorted(await allRows(model))).toEqual(sorted((await foldBatteryStatus(store)).values()))
    expect(model.status().state).toBe('live')
  })

  it('resets to the start and rebuilds the same rows', async () => {
    const { store, readSide, model, atHead } = await setUp()
    for (let n = 0; n < 20; n++) await store.appendToStream(`Battery-b${n}`, [installed('s1'), charge(n)])
    await readSide.start()
    await atHead()
    await readSide.projection('batteryStatus').reset()
    expect(model.status().position).toBe(0n)
    await atHead()
    expect(sorted(await allRows(model))).toEqual(sorted((await foldBatteryStatus(store)).values()))
  })
})
