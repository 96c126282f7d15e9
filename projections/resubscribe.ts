import { pause, retryDelay, type RetryPolicy } from '../framework/internal.ts'

export interface ResubscribeOptions {
  readonly signal: AbortSignal
  /** The back-off between subscriptions; the count of failures resets once a subscription delivers. */
  readonly policy: RetryPolicy
  /** Told each failure, before the wait (to log it). */
  readonly onFailure: (error: unknown, retryInMs: number) => void
}

/**
 * Follows the log until the signal aborts: runs `follow`, and subscribes again with back-off when it throws or
 * its subscription ends. `follow` calls `delivered` on each message, so a subscription that worked and then
 * dropped starts again from the shortest wait.
 */
export async function followWithResubscribe(
  options: ResubscribeOptions,
  follow: (delivered: () => void) => Promise<void>,
): Promise<void> {
  const { signal } = options
  let failures = 0
  const delivered = () => {
    failures = 0
  }
  while (!signal.aborted) {
    try {
      await follow(delivered)
      if (signal.aborted) return
      throw new Error('the subscription ended')
    } catch (error) {
      if (signal.aborted) return
      failures++
      const delay = retryDelay(options.policy, failures)
      options.onFailure(error, delay)
      await pause(delay, signal)
    }
  }
}
