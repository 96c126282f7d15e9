/**
 * The commit timeout (EventStoreDB's EVENTSTORE_COMMIT_TIMEOUT_MS): a write that has not committed in time
 * is answered as timed out. The write itself goes on, and may still commit; a client that retries with the
 * same event ids appends nothing twice.
 */
import type { ServiceContext } from './service-context.ts'

export const TIMED_OUT = Symbol('timed out')

/** The write's result, or TIMED_OUT when it (with any commit delay a test injected) outlasts the timeout. */
export function withinCommitTimeout<T>(
  context: ServiceContext,
  write: Promise<T>,
): Promise<T | typeof TIMED_OUT> {
  const delay = context.faults.commitDelayMs
  const committed =
    delay === 0
      ? write
      : write.then((result) => new Promise<T>((resolve) => setTimeout(resolve, delay, result)))
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, context.commitTimeoutMs, TIMED_OUT)
  })
  return Promise.race([committed, timeout]).finally(() => clearTimeout(timer))
}
