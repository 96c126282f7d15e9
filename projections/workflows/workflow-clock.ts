/**
 * The time workflows run on: what time it is, and a wake-up call at a time. The system clock is the default;
 * a test passes a clock it moves itself (createTestClock in annals/testing/read-side), so timers fire
 * without sleeping.
 */
export interface WorkflowClock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Calls `wake` once at (or after) `at`; the returned function cancels the call. */
  wakeAt(at: number, wake: () => void): () => void
}

/** setTimeout takes at most 2^31-1 ms; a later wake-up is re-armed on the way. */
const LONGEST_TIMEOUT_MS = 2_147_483_647

/** The system clock: Date.now and setTimeout (unref'd, so a pending timer keeps no process alive). */
export const systemClock: WorkflowClock = {
  now: () => Date.now(),
  wakeAt(at, wake) {
    let timer: NodeJS.Timeout | undefined
    const arm = () => {
      const delay = at - Date.now()
      if (delay <= 0) return wake()
      timer = setTimeout(arm, Math.min(delay, LONGEST_TIMEOUT_MS))
      timer.unref()
    }
    arm()
    return () => clearTimeout(timer)
  },
}
