import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { AnnalsError } from '../../framework/index.ts'
import { createReadSide } from '../../projections/create-read-side.ts'
import { createPostgresReadModels } from '../../projections/read-models/postgres/postgres-read-models.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { TankLevel } from '../e2e/fixtures/tank.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'

let database: { url: string; drop(): Promise<void> } | undefined
let gateway: RunningGateway | undefined
let opens = 0

beforeAll(async () => {
  if (!postgresUrl) return
  database = await freshDatabase()
  const inner = createPostgresReadModels({ url: database.url, leaseMs: 600 })
  // The fault, injected over the real database: the first open of the projection's store, right after its
  // lease was taken, fails as a query does when the server refuses it for a moment.
  const faulty: ReadModelDatabase = {
    ...inner,
    store: (definition, role) => {
      const store = inner.store(definition, role)
      return Object.assign(Object.create(store) as typeof store, {
        async open() {
          if (++opens === 1) throw new AnnalsError('STORE_UNAVAILABLE', 'refused for a moment')
          return store.open()
        },
      })
    },
  }
  gateway = await startGateway({ readSide: createReadSide({ projections: [TankLevel], database: faulty }) })
}, 60_000)

afterAll(async () => {
  await gateway?.close()
  await database?.drop()
})

const suite = postgresUrl ? describe : describe.skip

suite(
  `taking a projection's lease (a fault injected into the real PostgreSQL read side)${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  () => {
    it('runs the projection after its store failed to open once, instead of holding the lease idle', async () => {
      await vi.waitFor(async () => expect((await fetch(`${gateway!.url}/health/ready`)).status).toBe(200), {
        timeout: 15_000,
        interval: 50,
      })
      expect(opens).toBeGreaterThan(1)
      const fill = await gateway!.gql(
        `mutation { fill(id: "t1", input: { site: "s", litres: 3 }) { token } }`,
      )
      const token = (fill.body.data?.['fill'] as { token: string }).token
      const read = await gateway!.gql(`{ tankLevel(tankId: "t1", consistentWith: "${token}") { litres } }`)
      expect(read.body.data?.['tankLevel']).toEqual({ litres: 3 })
    })
  },
)
