import { randomUUID } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createEventStoreDbStore, type EventStore } from 'annals'
import { createDevStore, type DevStore } from 'annals/devstore'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import { opsRequest } from '../e2e/fixtures/ops-client.ts'
import { killHard, reservePorts, spawnReplica, type ReplicaProcess } from './cluster-harness.ts'

const entry = fileURLToPath(new URL('./fixtures/read-side-replica.ts', import.meta.url))
const secret = 'the-cluster-secret-of-the-ops-forwarding-test'

let devstore: DevStore
let store: EventStore
let database: { url: string; drop(): Promise<void> }
let sql: pg.Client
let replicas: ReplicaProcess[] = []

const eventually = <T>(check: () => Promise<T>) => vi.waitFor(check, { timeout: 30_000, interval: 50 })

beforeAll(async () => {
  if (!postgresUrl) return
  devstore = await createDevStore()
  store = createEventStoreDbStore(devstore.connectionString)
  database = await freshDatabase()
  sql = new pg.Client(database.url)
  await sql.connect()
  const ports = await reservePorts(2)
  const env = {
    NODE_ENV: 'test',
    EVENTSTORE_URL: devstore.connectionString,
    DATABASE_URL: database.url,
    ANNALS_PEERS: ports.map((port) => `http://127.0.0.1:${port}`).join(','),
    ANNALS_CLUSTER_SECRET: secret,
    ANNALS_PROBE_INTERVAL_MS: '100',
  }
  replicas = await Promise.all(ports.map((port) => spawnReplica({ port, entry, env })))
}, 120_000)

afterAll(async () => {
  for (const replica of replicas) await killHard(replica)
  await sql?.end()
  await store?.close()
  await devstore?.close()
  await database?.drop()
})

/** The replica holding the projection's lease, and its checkpoint, as the database has them. */
async function leaseAndCheckpoint(): Promise<{ owner: string | undefined; position: bigint }> {
  try {
    const { rows } = await sql.query(
      `select m.owner, c.position from annals.models m join annals.checkpoints c on c.table_name = m.table_name
       where m.name = 'counters'`,
    )
    const row = rows[0] as { owner: string | null; position: string } | undefined
    return { owner: row?.owner ?? undefined, position: BigInt(row?.position ?? '0') }
  } catch (error) {
    // No tables before a replica made them.
    if ((error as { code?: string }).code === '42P01') return { owner: undefined, position: 0n }
    throw error
  }
}

async function increment(counter: string): Promise<bigint> {
  const result = await store.appendToStream(`Counter-${counter}`, [
    { id: randomUUID(), type: 'Incremented', data: { by: 1, sequence: 0 } },
  ])
  return result.position
}

const suite = postgresUrl ? describe : describe.skip

suite(
  `a projection's controls sent to a replica that does not run it${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  { timeout: 120_000 },
  () => {
    it('are forwarded to the replica holding its lease: pause holds its checkpoint, resume catches it up', async () => {
      const first = await increment('f-1')
      const { owner } = await eventually(async () => {
        const now = await leaseAndCheckpoint()
        expect(now.owner).toBeDefined()
        expect(now.position).toBeGreaterThanOrEqual(first)
        return now
      })
      const runner = replicas.find((replica) => replica.url === owner)!
      const other = replicas.find((replica) => replica.url !== owner)!
      const ops = async (url: string, query: string) => {
        const reply = await opsRequest(url, query, { token: secret })
        expect(reply.body.errors).toBeUndefined()
        return reply.body.data!
      }

      const paused = await ops(
        other.url,
        'mutation { pauseProjection(name: "counters") { status position } }',
      )
      expect(paused['pauseProjection']).toMatchObject({ status: 'PAUSED' })
      const standing = (await leaseAndCheckpoint()).position
      const second = await increment('f-1')
      // The replica that runs it sees the event behind it (lag is measured each second), folds nothing.
      await eventually(async () => {
        const seen = await ops(runner.url, '{ projection(name: "counters") { status eventsBehind } }')
        expect(seen['projection']).toMatchObject({ status: 'PAUSED', eventsBehind: 1 })
      })
      expect((await leaseAndCheckpoint()).position).toBe(standing)
      expect(standing).toBeLessThan(second)

      const resumed = await ops(other.url, 'mutation { resumeProjection(name: "counters") { status } }')
      expect(resumed['resumeProjection']).toEqual({ status: 'RUNNING' })
      await eventually(async () =>
        expect((await leaseAndCheckpoint()).position).toBeGreaterThanOrEqual(second),
      )

      const rebuilt = await ops(other.url, 'mutation { rebuildProjection(name: "counters") { name } }')
      expect(rebuilt['rebuildProjection']).toEqual({ name: 'counters' })
      await eventually(async () => {
        const seen = await ops(runner.url, '{ projection(name: "counters") { status } }')
        expect(seen['projection']).toEqual({ status: 'RUNNING' })
      })
    })

    it('are not forwarded again when they arrive forwarded: a lease that moved meanwhile cannot bounce them around', async () => {
      const owner = await eventually(async () => {
        const holder = (await leaseAndCheckpoint()).owner
        expect(holder).toBeDefined()
        return holder!
      })
      const other = replicas.find((replica) => replica.url !== owner)!
      const response = await fetch(`${other.url}/ops/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
        body: JSON.stringify({
          query: 'mutation { pauseProjection(name: "counters") { status } }',
          forwardedBy: owner,
        }),
      })
      const body = (await response.json()) as { errors?: { message: string; extensions: { code: string } }[] }
      expect(body.errors?.[0]?.extensions.code).toBe('NOT_FOUND')
      expect(body.errors?.[0]?.message).toContain('runs on another replica')
    })

    it('are not sent to a replica a lease names that is not a member of the ring: it would get the secret', async () => {
      const heard: (string | undefined)[] = []
      const outsider = createHttpServer((request, response) => {
        heard.push(request.headers.authorization)
        response.end('{}')
      })
      await new Promise<void>((resolve) => outsider.listen(0, '127.0.0.1', resolve))
      const { port } = outsider.address() as AddressInfo
      try {
        await sql.query(
          `update annals.models set owner = $1, lease_until = now() + interval '1 hour' where name = 'counters'`,
          [`http://127.0.0.1:${port}`],
        )
        // Once the lease holder has seen its lease gone, neither replica runs it: both would forward.
        await eventually(async () => {
          const reply = await opsRequest(
            replicas[0]!.url,
            'mutation { pauseProjection(name: "counters") { status } }',
            {
              token: secret,
            },
          )
          expect(reply.body.errors?.[0]?.extensions.code).toBe('NOT_FOUND')
          expect(reply.body.errors?.[0]?.message).toContain('is not another live member of the ring')
        })
        expect(heard).toEqual([])
      } finally {
        await new Promise((resolve) => outsider.close(resolve))
      }
    })
  },
)
