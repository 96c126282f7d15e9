import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import type { ReadModelStore } from '../../projections/read-models/read-model-store.ts'

/**
 * A database whose commits a test can hold back: while held, every commit waits (the projection is slow
 * on purpose), so a read that must wait for its write can be seen to wait. The commits go through unchanged
 * once released.
 */
export interface CommitGate {
  readonly database: ReadModelDatabase
  /** Commits from now on wait until `release`. */
  hold(): void
  release(): void
  /** How many commits wait now. */
  readonly waiting: number
  /** Resolves once at least one commit waits at the gate. */
  untilWaiting(): Promise<void>
}

export function gateCommits(inner: ReadModelDatabase): CommitGate {
  let gate: Promise<void> | undefined
  let open: () => void = () => {}
  let waiting = 0
  const waiters: (() => void)[] = []
  const wrap = <TRow>(store: ReadModelStore<TRow>): ReadModelStore<TRow> =>
    Object.assign(Object.create(store) as ReadModelStore<TRow>, {
      async commit(batch: Parameters<ReadModelStore<TRow>['commit']>[0]) {
        while (gate) {
          waiting++
          for (const wake of waiters.splice(0)) wake()
          await gate
          waiting--
        }
        return store.commit(batch)
      },
    })
  return {
    database: {
      ...inner,
      description: `${inner.description}, commits gated by the test`,
      store: (definition, role) => wrap(inner.store(definition, role)),
      ...(inner.switchTo ? { switchTo: inner.switchTo.bind(inner) } : {}),
      close: () => inner.close(),
    },
    hold() {
      gate ??= new Promise<void>((resolve) => (open = resolve))
    },
    release() {
      gate = undefined
      open()
    },
    get waiting() {
      return waiting
    },
    untilWaiting() {
      if (waiting > 0) return Promise.resolve()
      return new Promise<void>((resolve) => waiters.push(resolve))
    },
  }
}
