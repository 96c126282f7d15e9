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

/** Creates a set of callers waiting for a model to reach positions; notify costs nothing while none waits. */
export function createPositionWaiters(): PositionWaiters {
  let waiters: Waiter[] = []
  /** Past their target, waiting for `ready`: checked again only on a release, not on every event. */
  let blocked: Waiter[] = []
  let lowest: bigint | undefined

  function recheckBlocked() {
    blocked = blocked.filter((waiter) => {
      if (!waiter.ready!()) return true
      waiter.resolve()
      return false
    })
  }

  return {
    get size() {
      return waiters.length + blocked.length
    },
    notify(position, released = false) {
      if (released && blocked.length > 0) recheckBlocked()
      if (lowest === undefined || position < lowest) return
      const pending: Waiter[] = []
      for (const waiter of waiters) {
        if (waiter.target > position) pending.push(waiter)
        else if (waiter.ready === undefined || waiter.ready()) waiter.resolve()
        else blocked.push(waiter)
      }
      waiters = pending
      lowest = pending.reduce<bigint | undefined>(
        (low, w) => (low === undefined || w.target < low ? w.target : low),
        undefined,
      )
    },
    wait(target, { timeoutMs, reached, ready }) {
      if (reached() >= target && (ready === undefined || ready())) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter)
          blocked = blocked.filter((w) => w !== waiter)
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
        waiters.push(waiter)
        if (lowest === undefined || target < lowest) lowest = target
      })
    },
  }
}
