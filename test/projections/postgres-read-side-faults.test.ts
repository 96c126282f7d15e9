import { describe, expect, it, vi } from 'vitest'
import { AnnalsError } from '../../framework/index.ts'
import { createReadSide } from '../../projections/create-read-side.ts'
import { createPostgresReadModels } from '../../projections/read-models/postgres/postgres-read-models.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { TankLevel } from '../e2e/fixtures/tank.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'

const refused = () => new AnnalsError('STORE_UNAVAILABLE', 'refused for a moment')

/**
 * A gateway over a fresh database of the real PostgreSQL server, with a fault `inject` puts over its read
 * side; runs `check` against it, then closes both.
 */
async function withFault(
  inject: (inner: ReadModelDatabase) => ReadModelDatabase,
  check: (gateway: RunningGateway) => Promise<void>,
): Promise<void> {
  const database = await freshDatabase()
  const inner = createPostgresReadModels({ url: database.url, leaseMs: 600 })
  const gateway = await startGateway({
    readSide: createReadSide({ projections: [TankLevel], database: inject(inner) }),
  })
  try {
    await check(gateway)
  } finally {
    await gateway.close()
    await database.drop()
  }
}

/** Waits until the replica is ready, then reads a write back through the shared read model. */
async function readyAndServing(gateway: RunningGateway): Promise<void> {
  await vi.waitFor(async () => expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200), {
    timeout: 15_000,
    interval: 50,
  })
  const fill = await gateway.gql(`mutation { fill(id: "t1", input: { site: "s", litres: 3 }) { token } }`)
  const token = (fill.body.data?.['fill'] as { token: string }).token
  const read = await gateway.gql(`{ tankLevel(tankId: "t1", consistentWith: "${token}") { litres } }`)
  expect(read.body.data?.['tankLevel']).toEqual({ litres: 3 })
}

const suite = postgresUrl ? describe : describe.skip

suite(
  `the shared read side through a moment's refusal (faults injected into the real PostgreSQL read side)${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  () => {
    it('tries a failed read of the checkpoints again while the listener stays up, and becomes ready', async () => {
      let reads = 0
      await withFault(
        (inner) => ({
          ...inner,
          shared: {
            ...inner.shared!,
            async checkpoints() {
              if (++reads <= 3) throw refused()
              return inner.shared!.checkpoints()
            },
          },
        }),
        async (gateway) => {
          await readyAndServing(gateway)
          expect(reads).toBeGreaterThan(3)
        },
      )
    })

    it('runs a projection whose store failed to open right after its lease was taken, instead of holding the lease idle', async () => {
      let opens = 0
      await withFault(
        (inner) => ({
          ...inner,
          store: (definition, role) => {
            const store = inner.store(definition, role)
            return Object.assign(Object.create(store) as typeof store, {
              async open() {
                if (++opens === 1) throw refused()
                return store.open()
              },
            })
          },
        }),
        async (gateway) => {
          await readyAndServing(gateway)
          expect(opens).toBeGreaterThan(1)
        },
      )
    })
  },
)
