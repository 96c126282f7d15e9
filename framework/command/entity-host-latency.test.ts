import { describe, expect, it } from 'vitest'
import type { EventStore } from '../event-store/event-store.ts'
import {
  countingStore,
  entityHostsClosedAfterEach,
  increment,
  refuse,
} from '../../test/support/entity-host.fixture.ts'
import { LATENCY_INTERVAL_MS, LATENCY_LIMIT_FLOOR } from './latency-limit.ts'

const hostOn = entityHostsClosedAfterEach()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A store whose appends wait while its gate is closed: commands stand in a queue meanwhile. */
function gatedStore() {
  const { store } = countingStore()
  let open: Promise<void> = Promise.resolve()
  let release = () => undefined as void
  const gated: EventStore = {
    ...store,
    appendToStream: async (...args) => {
      await open
      return store.appendToStream(...args)
    },
  }
  return {
    store: gated,
    close() {
      open = new Promise<void>((resolve) => (release = resolve))
    },
    release: () => release(),
  }
}

const codes = (settled: PromiseSettledResult<unknown>[]) =>
  settled.map((outcome) =>
    outcome.status === 'fulfilled' ? 'ok' : (outcome.reason as { code?: string }).code,
  )

describe('the entity host under a latency target', () => {
  it('refuses commands past the limit at once after appended commands waited longer than the target, and raises the limit again once they answer fast', async () => {
    const gate = gatedStore()
    const host = hostOn(gate.store, { latencyTargetMs: 20 })
    gate.close()
    const first = Array.from({ length: 40 }, (_, index) => host.execute(increment(`c-${index}`)))
    // Every one of them waits longer than the target and longer than an interval.
    await sleep(1.5 * LATENCY_INTERVAL_MS)
    gate.release()
    expect(codes(await Promise.allSettled(first))).toEqual(Array(40).fill('ok'))
    expect(host.load().limit).toBe(LATENCY_LIMIT_FLOOR)

    gate.close()
    const second = Array.from({ length: 30 }, (_, index) => host.execute(increment(`d-${index}`)))
    // The refused ones are answered while the admitted ones still wait on the store.
    const refused = await Promise.allSettled(second.slice(LATENCY_LIMIT_FLOOR))
    expect(codes(refused)).toEqual(Array(30 - LATENCY_LIMIT_FLOOR).fill('OVERLOADED'))
    expect(host.load()).toMatchObject({ queued: LATENCY_LIMIT_FLOOR, refused: 30 - LATENCY_LIMIT_FLOOR })
    gate.release()
    expect(codes(await Promise.allSettled(second.slice(0, LATENCY_LIMIT_FLOOR)))).toEqual(
      Array(LATENCY_LIMIT_FLOOR).fill('ok'),
    )

    // Fast answers, interval after interval, raise it again (seven intervals at least: a generous bound).
    await expect
      .poll(
        async () => {
          await host.execute(increment('e'))
          return host.load().limit
        },
        { timeout: 10_000 },
      )
      .toBeGreaterThan(2 * LATENCY_LIMIT_FLOOR)
  })

  it('does not take a command the domain refused, answered without an append, for a sign of a short queue', async () => {
    const gate = gatedStore()
    const host = hostOn(gate.store, { latencyTargetMs: 20 })
    gate.close()
    const appending = Array.from({ length: 40 }, (_, index) => host.execute(increment(`c-${index}`)))
    // Answered within a millisecond or two, in the same interval as the slow appends.
    const refusals = await Promise.allSettled([host.execute(refuse('r-1')), host.execute(refuse('r-2'))])
    expect(codes(refusals)).toEqual(['REFUSED', 'REFUSED'])
    await sleep(1.5 * LATENCY_INTERVAL_MS)
    gate.release()
    await Promise.all(appending)
    expect(host.load().limit).toBe(LATENCY_LIMIT_FLOOR)
  })

  it('measures nothing without a target: a standing queue is bounded by maxQueued alone', async () => {
    const gate = gatedStore()
    const host = hostOn(gate.store)
    gate.close()
    const first = Array.from({ length: 40 }, (_, index) => host.execute(increment(`c-${index}`)))
    await sleep(1.5 * LATENCY_INTERVAL_MS)
    gate.release()
    await Promise.all(first)
    gate.close()
    const second = Array.from({ length: 30 }, (_, index) => host.execute(increment(`d-${index}`)))
    await expect.poll(() => host.load().queued).toBe(30)
    expect(host.load()).toMatchObject({ refused: 0, limit: 5000 })
    gate.release()
    await Promise.all(second)
  })
})
