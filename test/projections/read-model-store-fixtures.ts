import { createInMemoryReadModelStore } from '../../projections/read-models/in-memory-read-model-store.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import type { ReadModelStore } from '../../projections/read-models/read-model-store.ts'

/**
 * A memory database that outlives the read sides over it: a second read side opened on it finds the rows,
 * checkpoint and held keys the first one committed, as the next process finds them in a durable store.
 */
export function keptMemoryDatabase(): ReadModelDatabase {
  const stores = new Map<string, ReadModelStore<unknown>>()
  return {
    description: 'memory kept across read sides (tests)',
    store<TRow>(definition: { name: string; key: string; indexes: readonly string[] }) {
      let store = stores.get(definition.name)
      if (!store) {
        store = createInMemoryReadModelStore({ key: definition.key, indexes: definition.indexes })
        stores.set(definition.name, store)
      }
      return store as ReadModelStore<TRow>
    },
    close: () => Promise.resolve(),
  }
}

/** What the database committed for the `charges` model: its checkpoint and held keys. */
export function checkpointOf(database: ReadModelDatabase) {
  return database.store({ name: 'charges', key: 'batteryId', indexes: [] } as never).open()
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
