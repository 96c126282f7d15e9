import { fileURLToPath } from 'node:url'
import { createDevStore, type DevStore } from 'annals/devstore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'
import { INSTALL } from '../example/power-plant-harness.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import { killHard, reservePorts, spawnReplica, type ReplicaProcess } from './cluster-harness.ts'

// The example app with a hook that holds its projections' commits back (see the fixture).
const exampleEntry = fileURLToPath(new URL('./fixtures/example-replica.ts', import.meta.url))
const clusterEnv = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  ANNALS_PROBE_INTERVAL_MS: '100',
  ANNALS_PROBE_TIMEOUT_MS: '300',
  ANNALS_PROBE_MISSES: '2',
  ANNALS_CLUSTER_SECRET: 'example-cluster-secret-0123456789',
}

let devstore: DevStore
let database: { url: string; drop(): Promise<void> } | undefined
let replicas: ReplicaProcess[] = []

/** POSTs a GraphQL document to one replica; returns its data or throws with the error codes. */
async function run<T>(
  replica: ReplicaProcess,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const response = await fetch(`${replica.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await response.json()) as {
    data?: T
    errors?: { extensions: { code: string }; message: string }[]
  }
  if (body.errors?.length)
    throw new Error(body.errors.map((e) => `${e.extensions.code}: ${e.message}`).join('; '))
  return body.data as T
}

async function untilReady(replica: ReplicaProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  for (;;) {
    const reply = await fetch(`${replica.url}/health/ready`).catch(() => undefined)
    if (reply?.status === 200) return
    if (reply) last = await reply.text()
    if (Date.now() > deadline) {
      throw new Error(
        `${replica.url} was not ready within ${timeoutMs} ms: ${last}\n${replica.output().slice(-4000)}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

beforeAll(async () => {
  if (!postgresUrl) return
  devstore = await createDevStore()
  database = await freshDatabase()
  const ports = await reservePorts(3)
  const env = {
    ...clusterEnv,
    ANNALS_PEERS: ports.map((port) => `http://127.0.0.1:${port}`).join(','),
    EVENTSTORE_URL: devstore.connectionString,
    DATABASE_URL: database.url,
  }
  replicas = await Promise.all(ports.map((port) => spawnReplica({ port, env, entry: exampleEntry })))
  await Promise.all(replicas.map((replica) => untilReady(replica)))
}, 120_000)

afterAll(async () => {
  for (const replica of replicas) await killHard(replica)
  await devstore?.close()
  await database?.drop()
})

const post = (replica: ReplicaProcess, path: string) => fetch(`${replica.url}${path}`, { method: 'POST' })

const suite = postgresUrl ? describe : describe.skip

suite(
  `the example app on three replicas sharing PostgreSQL${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  () => {
    it('reads each write on another replica than the one that took it, waiting while the projection is behind', async () => {
      const installed = await run<{ installBattery: { token: string } }>(replicas[0]!, INSTALL, {
        id: 'c-life',
        siteId: 'c-site',
        energyKwh: 6,
      })
      let token = installed.installBattery.token
      const steps = [
        'mutation { startCharging(id: "c-life", input: { powerKw: 3 }) { token } }',
        'mutation { stopPower(id: "c-life") { token } }',
        'mutation { decommission(id: "c-life", input: { reason: "moved" }) { token } }',
      ]
      const statuses: string[] = []
      for (const [index, mutation] of steps.entries()) {
        // Every projection's commits wait until the read below is under way: it must wait for them.
        await Promise.all(replicas.map((replica) => post(replica, '/test/commits/hold')))
        const data = await run<Record<string, { token: string }>>(replicas[(index + 1) % 3]!, mutation)
        token = Object.values(data)[0]!.token
        const reader = replicas[(index + 2) % 3]!
        await post(reader, '/test/commits/release-on-read')
        const read = await run<{ batteryStatus: { status: string } }>(
          reader,
          `{ batteryStatus(batteryId: "c-life", consistentWith: "${token}") { status } }`,
        )
        statuses.push(read.batteryStatus.status)
      }
      expect(statuses).toEqual(['charging', 'idle', 'decommissioned'])
    })

    it('runs a dispatch asked of one replica, seen live on another and read on a third', async () => {
      for (const [index, id] of ['c-b1', 'c-b2', 'c-b3'].entries()) {
        await run(replicas[index]!, INSTALL, { id, siteId: 'c-dispatch', energyKwh: 8 })
      }
      const client = connectClient(`${replicas[2]!.url.replace('http', 'ws')}/graphql`)
      const events = subscribe<{
        dispatchEvents: { __typename: string; position?: string; data?: { outcome: string } }
      }>(
        client,
        `subscription { dispatchEvents(id: "c-dispatch-1") {
        __typename ... on DispatchCompleted { position data { outcome } }
      } }`,
      )
      await run(
        replicas[1]!,
        'mutation { requestDispatch(id: "c-dispatch-1", input: { siteId: "c-dispatch", powerKw: 8, durationMinutes: 30 }) { token } }',
      )
      const frames = await events.take(4)
      const completed = frames[3]!.dispatchEvents
      expect(completed).toMatchObject({ __typename: 'DispatchCompleted', data: { outcome: 'FULFILLED' } })

      const discharging = await run<{ batteryStatusList: { nodes: { batteryId: string }[] } }>(
        replicas[0]!,
        `{ batteryStatusList(where: { siteId: { eq: "c-dispatch" }, status: { eq: discharging } }, consistentWith: "${completed.position}") {
        nodes { batteryId }
      } }`,
      )
      expect(discharging.batteryStatusList.nodes).toHaveLength(2)
      events.close()
      await client.dispose()
    })
  },
)
