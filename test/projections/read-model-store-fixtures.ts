import { createInMemoryReadModelStore } from '../../projections/in-memory-read-model-store.ts'
import type { HeldKey, ReadModelStore } from '../../projections/read-model-store.ts'

/** What a durable read-model store has on disk: the rows, the checkpoint and the held keys, saved together. */
export interface SavedModel<TRow> {
  readonly rows: Map<string, TRow>
  position: bigint
  version: number | undefined
  held: readonly HeldKey[]
}

export const emptySavedModel = <TRow>(): SavedModel<TRow> => ({
  rows: new Map(),
  position: 0n,
  version: undefined,
  held: [],
})

/**
 * Opens a read-model store over a saved model, as a durable store would: rows are cached in memory and
 * written to `saved` with the checkpoint on each commit, never between. Opening another store on the same
 * saved model is what the next process finds after a restart (or a crash after the last commit).
 */
export function openSavedStore<TRow>(saved: SavedModel<TRow>, key: string): ReadModelStore<TRow> {
  const cache = createInMemoryReadModelStore<TRow>({ key })
  for (const [rowKey, row] of saved.rows) cache.put(rowKey, row)
  if (saved.version !== undefined) cache.commit(saved.position, saved.version)
  let held = saved.held
  const dirty = new Set<string>()
  return {
    get position() {
      return cache.position
    },
    get version() {
      return cache.version
    },
    get size() {
      return cache.size
    },
    get held() {
      return held
    },
    get: (rowKey) => cache.get(rowKey),
    list: (query) => cache.list(query),
    put(rowKey, row) {
      cache.put(rowKey, row)
      dirty.add(rowKey)
    },
    delete(rowKey) {
      cache.delete(rowKey)
      dirty.add(rowKey)
    },
    commit(position, version, nextHeld) {
      cache.commit(position, version)
      if (nextHeld !== undefined) held = nextHeld
      for (const rowKey of dirty) {
        const row = cache.get(rowKey)
        if (row === undefined) saved.rows.delete(rowKey)
        else saved.rows.set(rowKey, row)
      }
      dirty.clear()
      saved.position = position
      saved.version = version
      saved.held = held
    },
    clear() {
      cache.clear()
      dirty.clear()
      held = []
      saved.rows.clear()
      saved.position = 0n
      saved.version = undefined
      saved.held = []
    },
  }
}

/** Reads every row of a source, page by page. */
export async function allRows<TRow>(source: {
  list(query: {
    first: number
    after?: string
  }): Promise<{ rows: readonly TRow[]; endCursor: string | undefined; hasNextPage: boolean }>
}): Promise<TRow[]> {
  const rows: TRow[] = []
  let after: string | undefined
  for (;;) {
    const page = await source.list({ first: 100, ...(after === undefined ? {} : { after }) })
    rows.push(...page.rows)
    if (!page.hasNextPage) return rows
    after = page.endCursor
  }
}
