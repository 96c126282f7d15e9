import { ConsistencyTimeoutError } from '../framework/index.ts'

export interface WaitOptions {
  readonly timeoutMs: number
  /** How far the caller's view of the model has come: the fast path and the timeout's message. */
  readonly reached: () => bigint
  /** What else must hold once `notify` reports the target (a row's held events folded); absent: nothing. */
  readonly ready?: () => boolean
}

interface Waiter {
  readonly target: bigint
  readonly ready: (() => boolean) | undefined
  readonly resolve: () => void
}

export interface PositionWaiters {
  /** Resolves once `notify` reports `target` or later and `ready` holds; else ConsistencyTimeoutError. */
  wait(target: bigint, options: WaitOptions): Promise<void>
  /**
   * Reports the position the model reached. `released` says that what a `ready` check reads may have
   * changed (held events folded or dropped): only then are waiters past their target but not ready checked.
   */
  notify(position: bigint, released?: boolean): void
  readonly size: number
}

/**
 * Creates a set of callers waiting for a model to reach positions; notify costs nothing while none waits, and
 * a waiter that times out leaves in constant time (a burst of timeouts must not cost the square of its size).
 */
export function createPositionWaiters(): PositionWaiters {
  const waiters = new Set<Waiter>()
  /** Past their target, waiting for `ready`: checked again only on a release, not on every event. */
  const blocked = new Set<Waiter>()
  let lowest: bigint | undefined

  function recheckBlocked() {
    for (const waiter of blocked) {
      if (!waiter.ready!()) continue
      blocked.delete(waiter)
      waiter.resolve()
    }
  }

  return {
    get size() {
      return waiters.size + blocked.size
    },
    notify(position, released = false) {
      if (released && blocked.size > 0) recheckBlocked()
      if (lowest === undefined || position < lowest) return
      let low: bigint | undefined
      for (const waiter of waiters) {
        if (waiter.target > position) {
          if (low === undefined || waiter.target < low) low = waiter.target
          continue
        }
        waiters.delete(waiter)
        if (waiter.ready === undefined || waiter.ready()) waiter.resolve()
        else blocked.add(waiter)
      }
      lowest = low
    },
    wait(target, { timeoutMs, reached, ready }) {
      if (reached() >= target && (ready === undefined || ready())) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          // `lowest` may now be below every target left: notify then walks once more and raises it.
          waiters.delete(waiter)
          blocked.delete(waiter)
          reject(new ConsistencyTimeoutError(target, reached(), timeoutMs))
        }, timeoutMs)
        const waiter: Waiter = {
          target,
          ready,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        waiters.add(waiter)
        if (lowest === undefined || target < lowest) lowest = target
      })
    },
  }
}
