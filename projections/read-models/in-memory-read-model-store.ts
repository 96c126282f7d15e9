import type { ListQuery } from '../../framework/index.ts'
import type { HeldKey, ReadModelStore, StoredPage } from './read-model-store.ts'
import { decodeCursor, encodeCursor, indexKey, matchesWhere, rowComparator } from './row-query.ts'

type Row = Readonly<Record<string, unknown>>

export interface InMemoryReadModelStoreOptions {
  /** The field that keys a row. */
  readonly key: string
  /** Fields with a hash index: `eq` and `in` filters on them read only the matching rows. */
  readonly indexes?: readonly string[]
  /** The largest page a list returns. Default 1,000. */
  readonly maxPageSize?: number
  /** The page size when a query names none. Default 100. */
  readonly defaultPageSize?: number
}

/** How a list would read the rows: through which index, over how many candidates. */
export interface ListPlan {
  readonly index: string | undefined
  readonly candidates: number
}

export interface InMemoryReadModelStore<TRow> extends ReadModelStore<TRow> {
  readonly size: number
  /** How a query would be answered; lets tests prove that an indexed filter scans no other rows. */
  explain(query: ListQuery): ListPlan
}

/**
 * Creates a read-model store held in memory: rows by key, hash indexes on declared fields, filtered and
 * sorted lists with opaque cursors. It starts empty, so its projection rebuilds from the log on each start;
 * a commit is a few map writes, so the engine's batches cost it nothing.
 *
 * @example
 * const store = createInMemoryReadModelStore<BatteryStatus>({ key: 'batteryId', indexes: ['siteId'] })
 */
export function createInMemoryReadModelStore<TRow>(
  options: InMemoryReadModelStoreOptions,
): InMemoryReadModelStore<TRow> {
  const { key } = options
  const maxPageSize = options.maxPageSize ?? 1_000
  const defaultPageSize = options.defaultPageSize ?? 100
  const rows = new Map<string, TRow>()
  const indexes = new Map((options.indexes ?? []).map((field) => [field, new Map<string, Set<string>>()]))
  let position = 0n
  let version: number | undefined
  let held: readonly HeldKey[] = []

  const unindex = (rowKey: string, row: Row) => {
    for (const [field, index] of indexes) {
      const bucketKey = indexKey(row[field])
      const bucket = index.get(bucketKey)
      bucket?.delete(rowKey)
      if (bucket?.size === 0) index.delete(bucketKey)
    }
  }
  /** Moves a row between buckets only where an indexed value changed: most updates touch no index. */
  const reindex = (rowKey: string, previous: Row, row: Row) => {
    for (const [field, index] of indexes) {
      const before = previous[field]
      const after = row[field]
      if (before === after) continue
      const beforeKey = indexKey(before)
      const afterKey = indexKey(after)
      if (beforeKey === afterKey) continue
      const bucket = index.get(beforeKey)
      bucket?.delete(rowKey)
      if (bucket?.size === 0) index.delete(beforeKey)
      let target = index.get(afterKey)
      if (!target) index.set(afterKey, (target = new Set()))
      target.add(rowKey)
    }
  }
  const addToIndexes = (rowKey: string, row: Row) => {
    for (const [field, index] of indexes) {
      const bucketKey = indexKey(row[field])
      let bucket = index.get(bucketKey)
      if (!bucket) index.set(bucketKey, (bucket = new Set()))
      bucket.add(rowKey)
    }
  }

  /** The narrowest set of row keys an indexed eq/in filter allows; undefined when none applies. */
  function candidates(query: ListQuery): { index: string; keys: Iterable<string>; size: number } | undefined {
    let best: { index: string; keys: Iterable<string>; size: number } | undefined
    const where = query.where ?? {}
    for (const field in where) {
      const filter = where[field]!
      const values = 'eq' in filter ? [filter.eq] : filter.in
      if (values === undefined) continue
      let keys: ReadonlySet<string> | readonly string[]
      if (field === key) {
        keys = [...new Set(values)].filter(
          (value): value is string => typeof value === 'string' && rows.has(value),
        )
      } else {
        const index = indexes.get(field)
        if (!index) continue
        keys = bucketsOf(index, values)
      }
      const size = 'size' in keys ? keys.size : keys.length
      if (!best || size < best.size) best = { index: field, keys, size }
    }
    return best
  }

  const put = (rowKey: string, row: TRow) => {
    const previous = rows.get(rowKey)
    rows.set(rowKey, row)
    if (previous === undefined) addToIndexes(rowKey, row as Row)
    else reindex(rowKey, previous as Row, row as Row)
  }
  const remove = (rowKey: string) => {
    const previous = rows.get(rowKey)
    if (previous === undefined) return
    unindex(rowKey, previous as Row)
    rows.delete(rowKey)
  }

  return {
    get size() {
      return rows.size
    },
    open: () => Promise.resolve({ position, version, held }),
    load(keys) {
      const loaded = new Map<string, TRow>()
      for (const rowKey of keys) {
        const row = rows.get(rowKey)
        if (row !== undefined) loaded.set(rowKey, row)
      }
      return Promise.resolve(loaded)
    },
    commit(batch) {
      for (const [rowKey, row] of batch.writes) {
        if (row === undefined) remove(rowKey)
        else put(rowKey, row)
      }
      position = batch.position
      version = batch.version
      if (batch.held !== undefined) held = batch.held
      return Promise.resolve()
    },
    get: (rowKey) => Promise.resolve(rows.get(rowKey)),
    list(query) {
      try {
        return Promise.resolve(listRows(query))
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
    },
    clear() {
      rows.clear()
      for (const index of indexes.values()) index.clear()
      position = 0n
      version = undefined
      held = []
      return Promise.resolve()
    },
    explain(query) {
      const plan = candidates(query)
      return { index: plan?.index, candidates: plan ? plan.size : rows.size }
    },
  }

  function listRows(query: ListQuery): StoredPage<TRow> {
    const orderBy = query.orderBy ?? []
    const plan = candidates(query)
    const compare = rowComparator(orderBy, key)
    const selected: Row[] = []
    if (plan) {
      for (const rowKey of plan.keys) {
        const row = rows.get(rowKey) as Row | undefined
        if (row !== undefined && matchesWhere(row, query.where)) selected.push(row)
      }
    } else {
      for (const row of rows.values()) if (matchesWhere(row as Row, query.where)) selected.push(row as Row)
    }
    selected.sort(compare)
    let start = 0
    if (query.after !== undefined) {
      const cursor = decodeCursor(query.after, orderBy, key)
      start = firstAfter(selected, cursor, compare)
    }
    const size = Math.max(0, Math.min(query.first ?? defaultPageSize, maxPageSize))
    const page = selected.slice(start, start + size)
    const last = page[page.length - 1]
    return {
      rows: page as TRow[],
      endCursor: last ? encodeCursor(last, orderBy, key) : undefined,
      hasNextPage: start + size < selected.length,
    }
  }
}

/** The keys in the buckets of `values`: the bucket itself for one value (read, never copied), else their union. */
function bucketsOf(
  index: ReadonlyMap<string, ReadonlySet<string>>,
  values: readonly unknown[],
): ReadonlySet<string> {
  if (values.length === 1) return index.get(indexKey(values[0])) ?? new Set()
  const union = new Set<string>()
  for (const value of values) for (const rowKey of index.get(indexKey(value)) ?? []) union.add(rowKey)
  return union
}

function firstAfter(sorted: readonly Row[], cursor: Row, compare: (a: Row, b: Row) => number): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (compare(sorted[middle]!, cursor) <= 0) low = middle + 1
    else high = middle
  }
  return low
}
