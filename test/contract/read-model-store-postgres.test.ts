import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresReadModels } from '../../projections/read-models/postgres/postgres-read-models.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import {
  commitBatch,
  readModelStoreContract,
  unitRow,
  units,
  type UnitRow,
} from './read-model-store-contract.ts'

let server: { url: string; drop(): Promise<void> } | undefined
const opened: ReadModelDatabase[] = []
beforeAll(async () => {
  if (postgresUrl) server = await freshDatabase()
})
afterAll(async () => {
  for (const database of opened) await database.close()
  await server?.drop()
})

/** A schema of its own per test, with this replica holding the lease its commits are fenced by. */
async function open() {
  const schema = `s_${randomBytes(4).toString('hex')}`
  const database = createPostgresReadModels({ url: server!.url, schema, poolSize: 2 })
  opened.push(database)
  const store = database.store<UnitRow>(units)
  await store.open()
  await database.shared!.acquire('units', 'contract')
  const close = async () => {
    opened.splice(opened.indexOf(database), 1)
    await database.close()
  }
  return { store, reopen: () => database.store<UnitRow>(units), close }
}

if (postgresUrl) readModelStoreContract('a real PostgreSQL server', open)
else describe.skip(`the read-model store contract: a real PostgreSQL server (${withoutPostgres})`, () => {})

const suite = postgresUrl ? describe : describe.skip

suite(`bulk commits into PostgreSQL${postgresUrl ? '' : ` (${withoutPostgres})`}`, () => {
  it('refuses a bulk commit once another replica took the lease, and writes none of its rows', async () => {
    const schema = `s_${randomBytes(4).toString('hex')}`
    const database = createPostgresReadModels({ url: server!.url, schema, poolSize: 2, leaseMs: 200 })
    const other = createPostgresReadModels({ url: server!.url, schema, poolSize: 2, leaseMs: 200 })
    opened.push(database, other)
    const store = database.store<UnitRow>(units)
    await store.open()
    expect(await database.shared!.acquire('units', 'old')).toBeDefined()
    await commitBatch(store, 5n, [['u001', unitRow(1)]])
    // The old holder, paused past its term, still believes it holds the lease when it commits.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await other.shared!.acquire('units', 'new')).toBeDefined()
    const rows = Array.from({ length: 1_000 }, (_, n) => unitRow(n + 2))
    await expect(
      commitBatch(
        store,
        9n,
        rows.map((row) => [row.id, row] as const),
      ),
    ).rejects.toThrow(/Another replica runs projection units/)
    const reader = other.store<UnitRow>(units)
    expect(await reader.open()).toMatchObject({ position: 5n })
    expect((await reader.list({ first: 1_000 })).rows.map((row) => row.id)).toEqual(['u001'])
  })
})
