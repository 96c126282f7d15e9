import { describe, expect, it } from 'vitest'
import {
  createUtilizationShedder,
  MAX_SHED_SHARE,
  MIN_UTILIZATION_BOUND,
  SHED_STEP,
} from './shed-under-pressure.ts'

/** A shedder whose loop utilization the test sets, and whose intervals the test ends by hand. */
function shedderOnHand(maxUtilization = 0.9) {
  let utilization = 0
  let tick = () => undefined as void
  let stopped = false
  const shedder = createUtilizationShedder({
    maxUtilization,
    sample: () => utilization,
    every: (_ms, run) => {
      tick = run
      return () => (stopped = true)
    },
  })
  /** Ends `count` intervals in which the loop was busy `busy` of its time; returns the share after each. */
  const intervals = (busy: number, count: number) => {
    utilization = busy
    return Array.from({ length: count }, () => {
      tick()
      return Number(shedder.share().toFixed(2))
    })
  }
  return { shedder, intervals, stopped: () => stopped }
}

describe('createUtilizationShedder', () => {
  it('refuses nothing while the loop stays within its bound', () => {
    const { shedder, intervals } = shedderOnHand(0.9)
    expect(intervals(0.9, 20)).toEqual(Array(20).fill(0))
    expect(Array.from({ length: 1000 }, () => shedder.refuses())).not.toContain(true)
  })

  it('raises the refused share by a step for each busy interval, up to its most, so some requests always pass', () => {
    const { shedder, intervals } = shedderOnHand(0.9)
    const steps = Math.round(MAX_SHED_SHARE / SHED_STEP)
    expect(intervals(0.95, steps + 5)).toEqual([
      ...Array.from({ length: steps }, (_, index) => Number(((index + 1) * SHED_STEP).toFixed(2))),
      ...Array<number>(5).fill(MAX_SHED_SHARE),
    ])
    const refused = Array.from({ length: 10_000 }, () => shedder.refuses()).filter(Boolean).length
    // 90% of 10,000 draws: far more than a few hundred from either bound would be a broken share.
    expect(refused).toBeGreaterThan(8_500)
    expect(refused).toBeLessThan(9_500)
  })

  it('lowers the share a step for each interval within the bound, down to refusing nothing', () => {
    const { shedder, intervals } = shedderOnHand(0.9)
    intervals(1, 3)
    expect(intervals(0.5, 4)).toEqual([0.2, 0.1, 0, 0])
    expect(Array.from({ length: 1000 }, () => shedder.refuses())).not.toContain(true)
  })

  it('settles between the two when the busy intervals alternate, as above saturation with the excess refused', () => {
    const { intervals } = shedderOnHand(0.9)
    intervals(1, 5)
    const seen = [0.95, 0.5, 0.95, 0.5, 0.95, 0.5].flatMap((busy) => intervals(busy, 1))
    expect(seen).toEqual([0.6, 0.5, 0.6, 0.5, 0.6, 0.5])
  })

  it('measures each interval on its own: a busy interval after a long idle one raises the share', async () => {
    let tick = () => undefined as void
    const shedder = createUtilizationShedder({
      maxUtilization: 0.9,
      every: (_ms, run) => {
        tick = run
        return () => undefined
      },
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    tick()
    expect(shedder.share()).toBe(0)
    // 60 ms of work with nothing between: busy all of its interval, though 20% of the time since the start.
    const until = performance.now() + 60
    while (performance.now() < until);
    tick()
    expect(shedder.share()).toBe(SHED_STEP)
  })

  it('takes a bound from 0.5 up to, not including, 1', () => {
    for (const bound of [1, 0.3, 0, -1, Number.NaN]) {
      expect(() => createUtilizationShedder({ maxUtilization: bound, every: () => () => undefined })).toThrow(
        expect.objectContaining({ code: 'BAD_CONFIG' }),
      )
    }
    expect(() => shedderOnHand(MIN_UTILIZATION_BOUND)).not.toThrow()
  })

  it('stops measuring once closed', () => {
    const { shedder, stopped } = shedderOnHand()
    shedder.close()
    expect(stopped()).toBe(true)
  })
})
