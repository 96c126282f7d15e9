import type { WorkflowClock } from './workflow-clock.ts'

/** A clock a test moves by hand: wake-ups run when the time passes theirs, never on their own. */
export interface TestClock extends WorkflowClock {
  /** Moves the time to `at` (backwards too) and runs every wake-up due by then, earliest first. */
  set(at: number | Date): void
  /** Moves the time forward by `ms`. */
  advance(ms: number): void
}

/**
 * Creates a clock for tests, starting at `start` (default: the real time now).
 *
 * @example
 * const clock = createTestClock()
 * clock.advance(5 * 60_000) // every workflow timer due in the next five minutes fires
 */
export function createTestClock(start: number | Date = Date.now()): TestClock {
  let now = typeof start === 'number' ? start : start.getTime()
  let sequence = 0
  const pending = new Map<number, { readonly at: number; readonly wake: () => void }>()
  const clock: TestClock = {
    now: () => now,
    wakeAt(at, wake) {
      if (at <= now) {
        wake()
        return () => {}
      }
      const id = sequence++
      pending.set(id, { at, wake })
      return () => pending.delete(id)
    },
    set(at) {
      now = typeof at === 'number' ? at : at.getTime()
      const due = [...pending].filter(([, entry]) => entry.at <= now).sort(([, a], [, b]) => a.at - b.at)
      for (const [id, entry] of due) {
        pending.delete(id)
        entry.wake()
      }
    },
    advance: (ms) => clock.set(now + ms),
  }
  return clock
}
