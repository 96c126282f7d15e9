import { ConsistencyTimeoutError } from '../framework/errors.ts'

interface Waiter {
  readonly target: bigint
  readonly resolve: () => void
}

export interface PositionWaiters {
  /** Resolves once `notify` reports `target` or later; else ConsistencyTimeoutError after `timeoutMs`. */
  wait(target: bigint, timeoutMs: number, reached: () => bigint): Promise<void>
  notify(position: bigint): void
  readonly size: number
}

/** Creates a set of callers waiting for a model to reach positions; notify costs nothing while none waits. */
export function createPositionWaiters(): PositionWaiters {
  let waiters: Waiter[] = []
  let lowest: bigint | undefined

  return {
    get size() {
      return waiters.length
    },
    notify(position) {
      if (lowest === undefined || position < lowest) return
      const pending: Waiter[] = []
      for (const waiter of waiters) {
        if (waiter.target <= position) waiter.resolve()
        else pending.push(waiter)
      }
      waiters = pending
      lowest = pending.reduce<bigint | undefined>(
        (low, w) => (low === undefined || w.target < low ? w.target : low),
        undefined,
      )
    },
    wait(target, timeoutMs, reached) {
      if (reached() >= target) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter)
          reject(new ConsistencyTimeoutError(target, reached(), timeoutMs))
        }, timeoutMs)
        const waiter: Waiter = {
          target,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        waiters.push(waiter)
        if (lowest === undefined || target < lowest) lowest = target
      })
    },
  }
}
