import { isAnnalsError } from './errors.ts'

/** How often and how patiently a failing step is tried again. */
export interface RetryPolicy {
  /** Tries after the first failure before giving up. */
  readonly attempts: number
  readonly initialDelayMs: number
  readonly maxDelayMs: number
}

/** The delay before try number `attempt` (1-based): exponential from the initial delay, capped. */
export function retryDelay(
  policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>,
  attempt: number,
): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1))
}

/** Waits `ms`, or less when the signal aborts (it then resolves rather than rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Whether a failure passes by itself: the store is down, or the replica is saturated and asked to be tried
 * later (OVERLOADED). A step of the read side that meets one waits it out with the store's back-off, without
 * end, instead of counting it as the handler's failure and dead-lettering its event.
 */
export function passesByItself(error: unknown): boolean {
  return isAnnalsError(error) && (error.code === 'STORE_UNAVAILABLE' || error.code === 'OVERLOADED')
}
