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
let reads = 0
const FAILED_READS = 3

beforeAll(async () => {
  if (!postgresUrl) return
  database = await freshDatabase()
  const inner = createPostgresReadModels({ url: database.url })
  // The fault, injected over the real database: the first reads of the checkpoints after the listener
  // connects fail, as a query does when the server refuses it for a moment; the listener itself stays up.
  const faulty: ReadModelDatabase = {
    ...inner,
    shared: {
      ...inner.shared!,
      async checkpoints() {
        if (++reads <= FAILED_READS) throw new AnnalsError('STORE_UNAVAILABLE', 'refused for a moment')
        return inner.shared!.checkpoints()
      },
    },
  }
  gateway = await startGateway({
    readSide: createReadSide({ projections: [TankLevel], database: faulty }),
  })
}, 60_000)

afterAll(async () => {
  await gateway?.close()
  await database?.drop()
})

const suite = postgresUrl ? describe : describe.skip

suite(
  `reading the checkpoints once notifications flow (a fault injected into the real PostgreSQL read side)${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  () => {
    it('tries a failed read again while the listener stays up, and the replica becomes ready', async () => {
      await vi.waitFor(async () => expect((await fetch(`${gateway!.url}/health/ready`)).status).toBe(200), {
        timeout: 15_000,
        interval: 50,
      })
      expect(reads).toBeGreaterThan(FAILED_READS)
      // Ready means it serves: a write is read back through the shared read model.
      const token = (
        await gateway!.gql(`mutation { fill(id: "t1", input: { site: "s", litres: 4 }) { token } }`)
      ).body.data?.['fill'] as { token: string }
      const read = await gateway!.gql(
        `{ tankLevel(tankId: "t1", consistentWith: "${token.token}") { litres } }`,
      )
      expect(read.body.data?.['tankLevel']).toEqual({ litres: 4 })
    })
  },
)
