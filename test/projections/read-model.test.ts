import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ReadModelSource } from '../../framework/read-model/read-model-source.ts'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import {
  Battery,
  BatteryStatusRow,
  batteryStatus,
  charge,
  foldBatteryStatus,
  installed,
  noise,
  removed,
  siteCapacity,
} from './battery-fixtures.ts'
import { withUnavailableSubscriptions } from './event-store-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'
import { allRows } from './read-model-store-fixtures.ts'

const running: ProjectionReadSide[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((readSide) => readSide.stop()))
})

async function start(
  store: ReturnType<typeof createInMemoryEventStore> | ReturnType<typeof withUnavailableSubscriptions>,
) {
  const readSide = await openReadSide(store, {
    projections: [batteryStatus(), siteCapacity],
    resubscribeRetry: { initialDelayMs: 5, maxDelayMs: 20 },
  })
  running.push(readSide)
  return readSide
}

const source = (readSide: ProjectionReadSide, name = 'batteryStatus') =>
  readSide.sources.find((candidate) => candidate.name === name) as ReadModelSource<BatteryStatusRow>

async function caughtUp(readSide: ProjectionReadSide, store: { headPosition(): Promise<bigint> }) {
  const head = await store.headPosition()
  await Promise.all(readSide.sources.map((model) => model.waitFor(head, 5_000)))
}

type Step =
  | { op: 'install'; id: number; site: number }
  | { op: 'charge'; id: number; percent: number }
  | { op: 'remove'; id: number }
  | { op: 'noise' }
  | { op: 'drop' }
  | { op: 'start' }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('install' as const), id: fc.nat(5), site: fc.nat(2) }),
  fc.record({ op: fc.constant('charge' as const), id: fc.nat(5), percent: fc.nat(100) }),
  fc.record({ op: fc.constant('remove' as const), id: fc.nat(5) }),
  fc.record({ op: fc.constant('noise' as const) }),
  fc.record({ op: fc.constant('drop' as const) }),
  fc.record({ op: fc.constant('start' as const) }),
)

describe('a projection', () => {
  it('equals the fold of every event of its types, whether events come before, during or after catch-up and across dropped subscriptions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        const store = createInMemoryEventStore()
        const readSide = await start(store)
        for (const next of steps) {
          if (next.op === 'install')
            await store.appendToStream(`Battery-b${next.id}`, [installed(`s${next.site}`)])
          if (next.op === 'charge') await store.appendToStream(`Battery-b${next.id}`, [charge(next.percent)])
          if (next.op === 'remove') await store.appendToStream(`Battery-b${next.id}`, [removed()])
          if (next.op === 'noise') await store.appendToStream('Grid-g', [noise(1)])
          if (next.op === 'drop') store.dropSubscriptions()
          if (next.op === 'start') await readSide.start()
        }
        await readSide.start()
        await caughtUp(readSide, store)
        const expected = [...(await foldBatteryStatus(store)).values()].sort((a, b) =>
          a.batteryId.localeCompare(b.batteryId),
        )
        expect(await allRows(source(readSide))).toEqual(expected)
        await readSide.stop()
      }),
      { numRuns: 40 },
    )
  })

  it('resumes from its position after the store was unavailable, folding each event once', async () => {
    const inner = createInMemoryEventStore()
    const store = withUnavailableSubscriptions(inner)
    await store.appendToStream('Battery-b1', [installed('s1'), charge(10)])
    const readSide = await start(store)
    await readSide.start()
    await caughtUp(readSide, store)
    store.failNextSubscribes(3)
    inner.dropSubscriptions()
    await store.appendToStream('Battery-b1', [charge(20), charge(30)])
    await caughtUp(readSide, store)
    expect(await source(readSide).get('b1')).toMatchObject({ percent: 30, reports: 3 })
  })

  it('keys a fan-in row by a field of the event', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream('Battery-b1', [installed('s1', 10)])
    await store.appendToStream('Battery-b2', [installed('s1', 5)])
    await store.appendToStream('Battery-b3', [installed('s2', 7)])
    const readSide = await start(store)
    await readSide.start()
    await caughtUp(readSide, store)
    expect(await source(readSide, 'siteCapacity').get('s1')).toEqual({
      siteId: 's1',
      batteries: 2,
      capacityKwh: 15,
    })
  })

  it('lists rows filtered on indexed and plain fields, sorted, in pages that neither overlap nor skip', async () => {
    const store = createInMemoryEventStore()
    for (let n = 0; n < 25; n++) {
      await store.appendToStream(`Battery-b${String(n).padStart(2, '0')}`, [
        installed(`s${n % 3}`),
        charge((n * 37) % 100),
      ])
    }
    const readSide = await start(store)
    await readSide.start()
    await caughtUp(readSide, store)
    const model = source(readSide)
    const where = { siteId: { eq: 's1' }, percent: { gte: 10 } }
    const orderBy = [{ field: 'percent', direction: 'desc' as const }]
    const first = await model.list({ where, orderBy, first: 3 })
    const rest = await model.list({ where, orderBy, first: 100, after: first.endCursor! })
    const seen = [...first.rows, ...rest.rows]
    const expected = [...(await foldBatteryStatus(store)).values()]
      .filter((row) => row.siteId === 's1' && row.percent >= 10)
      .sort((a, b) => b.percent - a.percent || a.batteryId.localeCompare(b.batteryId))
    expect(first.hasNextPage).toBe(true)
    expect(rest.hasNextPage).toBe(false)
    expect(seen).toEqual(expected)
  })

  it('refuses, in types and at definition, a handler for an event its aggregates do not declare', () => {
    expect(() =>
      defineProjection({
        name: 'wrong',
        row: BatteryStatusRow,
        key: 'batteryId',
        from: [Battery],
        handlers: {
          // @ts-expect-error: Battery declares no DemandRaised event
          DemandRaised: () => null,
        },
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }))
  })

  it('refuses a filter on a field the row does not have', async () => {
    const readSide = await start(createInMemoryEventStore())
    await expect(source(readSide).list({ where: { colour: { eq: 'red' } } })).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
  })

  it('reports its status: live at the head, with counters', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(50)])
    const readSide = await start(store)
    expect(readSide.isCaughtUp()).toBe(false)
    await readSide.start()
    await caughtUp(readSide, store)
    expect(readSide.isCaughtUp()).toBe(true)
    expect(source(readSide).status()).toMatchObject({
      name: 'batteryStatus',
      state: 'live',
      position: await store.headPosition(),
      eventsBehind: 0,
      millisecondsBehind: 0,
      eventsProcessed: 2,
      deadLetters: 0,
      version: 1,
    })
  })
})

describe('waitFor', () => {
  it('resolves at the position of an event the projection filters out once it has passed it', async () => {
    const store = createInMemoryEventStore()
    const readSide = await start(store)
    await readSide.start()
    await store.appendToStream('Battery-b1', [installed('s1')])
    const { position } = await store.appendToStream('Grid-g', [noise(1)])
    await source(readSide).waitFor(position, 2_000)
    expect(await source(readSide).get('b1')).toBeDefined()
  })

  it('resolves once the event at the position has been folded in', async () => {
    const store = createInMemoryEventStore()
    const readSide = await start(store)
    await readSide.start()
    const { position } = await store.appendToStream('Battery-b1', [installed('s1'), charge(42)])
    await source(readSide).waitFor(position, 2_000)
    expect(await source(readSide).get('b1')).toMatchObject({ percent: 42 })
  })

  it('fails with CONSISTENCY_TIMEOUT when the model does not get there in time', async () => {
    const store = createInMemoryEventStore()
    const readSide = await start(store)
    await readSide.start()
    const { position } = await store.appendToStream('Battery-b1', [installed('s1')])
    readSide.projection('batteryStatus').pause()
    const { position: later } = await store.appendToStream('Battery-b1', [charge(1)])
    expect(later).toBeGreaterThan(position)
    await expect(source(readSide).waitFor(later, 50)).rejects.toMatchObject({ code: 'CONSISTENCY_TIMEOUT' })
  })

  it("names the caller's token and timeout when it times out, not the event it was waiting on", async () => {
    const store = createInMemoryEventStore()
    const readSide = await start(store)
    await readSide.start()
    await store.appendToStream('Battery-b1', [installed('s1')])
    readSide.projection('batteryStatus').pause()
    const { position: charged } = await store.appendToStream('Battery-b1', [charge(1)])
    // An event the projection filters out: the wait is for the charge before it.
    const { position: token } = await store.appendToStream('Grid-g', [noise(1)])
    for (const key of [undefined, 'b1']) {
      const waiting = source(readSide).waitFor(token, 30, key === undefined ? {} : { key })
      await expect(waiting).rejects.toMatchObject({
        code: 'CONSISTENCY_TIMEOUT',
        target: token,
        message: expect.stringMatching(new RegExp(`but not ${token} within 30 ms$`)) as unknown,
      })
    }
    expect(charged).toBeLessThan(token)
  })
})
