import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe } from 'vitest'
import { createPostgresReadModels } from '../../projections/read-models/postgres/postgres-read-models.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import { readModelStoreContract, units, type UnitRow } from './read-model-store-contract.ts'

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
