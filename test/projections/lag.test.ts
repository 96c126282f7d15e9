import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { batteryStatus, charge, installed } from './battery-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'

const running: ProjectionReadSide[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((readSide) => readSide.stop()))
})

describe('projection lag', () => {
  it('counts the unprocessed events of its types and ages the oldest of them, not the last one folded', async () => {
    // The store stamps each event with the time this test sets: an hour-old event, then two seconds old.
    let stamp = new Date(Date.now() - 3_600_000)
    const store = createInMemoryEventStore({ now: () => stamp })
    const readSide = await openReadSide(store, { projections: [batteryStatus()], headRefreshMs: 20 })
    running.push(readSide)
    await readSide.start()
    await store.appendToStream('Battery-b1', [installed('s1')])
    const model = readSide.sources[0]!
    await model.waitFor(await store.headPosition(), 2_000)
    readSide.projection('batteryStatus').pause()
    stamp = new Date(Date.now() - 2_000)
    await store.appendToStream('Battery-b1', [charge(10), charge(20), charge(30)])
    // Events of a type the projection does not handle are not behind.
    await store.appendToStream('Other-o1', [
      { id: randomUUID(), type: 'Unrelated', data: { text: 'x'.repeat(500) } },
    ])
    await vi.waitFor(() => expect(model.status().eventsBehind).toBe(3), { timeout: 5_000 })
    const { millisecondsBehind } = model.status()
    expect(millisecondsBehind).toBeGreaterThanOrEqual(2_000)
    expect(millisecondsBehind).toBeLessThan(600_000)
  })
})
