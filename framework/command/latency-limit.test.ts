import { describe, expect, it } from 'vitest'
import { createLatencyLimit, LATENCY_INTERVAL_MS, LATENCY_LIMIT_FLOOR } from './latency-limit.ts'

/** A limit on a clock the test moves; `answer(latency, inFlight)` records one command answered now. */
function limitOnClock(targetMs = 20, ceiling = 5000) {
  let clock = 0
  const limit = createLatencyLimit({ targetMs, ceiling, now: () => clock })
  return {
    limit,
    advance: (ms: number) => (clock += ms),
    answer: (latencyMs: number, inFlight: number) => limit.answered(clock - latencyMs, inFlight),
    /** Ends the interval: the next call, with `inFlight` commands in flight, judges it. */
    closeInterval: (inFlight: number) => {
      clock += LATENCY_INTERVAL_MS
      return limit.admits(inFlight)
    },
  }
}

describe('createLatencyLimit', () => {
  it('admits up to the ceiling until an interval shows a standing queue', () => {
    const { limit } = limitOnClock()
    expect(limit.admits(4999)).toBe(true)
    expect(limit.admits(5000)).toBe(false)
  })

  it('cuts the limit to what keeps the commands in flight near the target once even the fastest waited longer', () => {
    const { limit, advance, answer } = limitOnClock(20)
    answer(200, 400)
    answer(100, 400)
    advance(LATENCY_INTERVAL_MS)
    // 400 in flight whose fastest took 100 ms: 400 × 20 / 100.
    expect(limit.admits(400)).toBe(false)
    expect(limit.limit()).toBe(80)
    expect(limit.admits(79)).toBe(true)
  })

  it('never cuts below the floor, and never raises the limit while the queue stands', () => {
    const { limit, answer, closeInterval } = limitOnClock(20)
    answer(1000, 100)
    closeInterval(100)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
    // More in flight than before, still slow: the limit does not follow them up.
    answer(25, 900)
    closeInterval(900)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
  })

  it('measures the queue from the lowest latency of light intervals, so a store slow at every append is not held at the floor', () => {
    const { limit, answer, closeInterval } = limitOnClock(20)
    // A slow store: 70 ms with no more in flight than the floor.
    answer(70, LATENCY_LIMIT_FLOOR)
    closeInterval(LATENCY_LIMIT_FLOOR)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
    // 80 ms is within the target of that base: not a queue, the limit grows.
    answer(80, LATENCY_LIMIT_FLOOR)
    closeInterval(LATENCY_LIMIT_FLOOR)
    expect(limit.limit()).toBe(18)
    // 200 ms with 36 in flight is: cut to 36 × (70 + 20) / 200.
    answer(200, 36)
    closeInterval(36)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
  })

  it('does not take a loaded interval for the base: its minimum holds its queue', () => {
    const { limit, answer, closeInterval } = limitOnClock(20)
    answer(300, 400)
    closeInterval(400)
    // 400 × (0 + 20) / 300: no light interval yet, so no base.
    expect(limit.limit()).toBe(26)
    // 100 ms is still a queue: with the loaded 300 ms taken for the base, it would pass for none.
    answer(100, 20)
    closeInterval(20)
    expect(limit.limit()).toBe(26)
  })

  it('cuts from the mean of the commands in flight during the interval, not from those left at its end', () => {
    const { limit, answer, closeInterval } = limitOnClock(20)
    limit.admits(300)
    answer(100, 0)
    closeInterval(0)
    // (300 + 0) / 2 × 20 / 100.
    expect(limit.limit()).toBe(30)
  })

  it('takes an interval for light only if it never held more commands than the floor, whatever it ends with', () => {
    const { limit, answer, closeInterval } = limitOnClock(20)
    limit.admits(300)
    answer(200, 5)
    closeInterval(5)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
    // Had that interval's 200 ms become the base, 150 ms would be within it and the limit would grow.
    answer(150, 10)
    closeInterval(10)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
  })

  it('keeps its floor under a smaller ceiling', () => {
    const { limit, answer, closeInterval } = limitOnClock(20, 8)
    answer(500, 8)
    expect(closeInterval(7)).toBe(true)
    expect(limit.limit()).toBe(8)
  })

  it('grows by a tenth for each interval under the target, up to the ceiling', () => {
    const { limit, answer, closeInterval } = limitOnClock(20, 100)
    answer(500, 400)
    closeInterval(0)
    expect(limit.limit()).toBe(LATENCY_LIMIT_FLOOR)
    const seen: number[] = []
    for (let interval = 0; interval < 30; interval++) {
      answer(5, 10)
      closeInterval(10)
      seen.push(limit.limit())
    }
    expect(seen.slice(0, 4)).toEqual([18, 20, 22, 25])
    expect(seen.at(-1)).toBe(100)
  })

  it('changes nothing for an interval in which no command was answered', () => {
    const { limit, answer, closeInterval } = limitOnClock(20)
    answer(100, 200)
    closeInterval(200)
    expect(limit.limit()).toBe(40)
    for (let interval = 0; interval < 10; interval++) {
      closeInterval(200)
    }
    expect(limit.limit()).toBe(40)
  })

  it('judges an interval only once it is over', () => {
    const { limit, advance, answer } = limitOnClock(20)
    answer(500, 300)
    advance(LATENCY_INTERVAL_MS - 1)
    expect(limit.admits(300)).toBe(true)
    advance(1)
    expect(limit.admits(300)).toBe(false)
  })
})
