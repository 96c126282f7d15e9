import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { EventStore } from 'annals'
import { createReadSide } from 'annals/projections'
import { createServer } from '../../framework/server/create-server.ts'
import { createCluster } from '../../framework/sharding/create-cluster.ts'
import { FaultyTank } from './fixtures/faulty-tank.ts'
import { connectClient, subscribe } from './fixtures/subscribe-over-ws.ts'
import { startGateway } from './fixtures/start-gateway.ts'
import { Tank, TankLevel } from './fixtures/tank.ts'

const fill = (id: string) => `mutation { fill(id: "${id}", input: { site: "s", litres: 3 }) { token } }`

/**
 * Fills a tank and says whether anything followed its event in the log within a second: the links of the
 * devstore's system projections ($ce-Tank, $et-TankFilled, $bc-<command>) come within milliseconds when they run.
 */
async function linksAfterFill(app: Awaited<ReturnType<typeof createServer>>, tank: string): Promise<boolean> {
  const reply = await app.inject({ method: 'POST', url: '/graphql', payload: { query: fill(tank) } })
  const position = BigInt(reply.json<{ data: { fill: { token: string } } }>().data.fill.token)
  const deadline = Date.now() + 1_000
  let head = await app.annals.store.headPosition()
  while (head === position && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    head = await app.annals.store.headPosition()
  }
  return head > position
}

describe('health, readiness and metrics', () => {
  it('is live, becomes ready once the store answers and projections caught up, and counts commands', async () => {
    const gateway = await startGateway()
    try {
      expect(await (await fetch(`${gateway.url}/health/live`)).json()).toEqual({ status: 'live' })
      const ready = await fetch(`${gateway.url}/health/ready`)
      expect(ready.status).toBe(200)
      expect(await ready.json()).toMatchObject({ status: 'ready', projections: [{ name: 'tankLevel' }] })
      await gateway.gql(fill('m1'))
      await gateway.gql('mutation { drain(id: "m1", input: { litres: 99 }) { token } }')
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
      expect(metrics).toContain('annals_commands_total{aggregate="Tank",command="fill",outcome="ok"} 1')
      expect(metrics).toContain(
        'annals_commands_total{aggregate="Tank",command="drain",outcome="NOT_ENOUGH_WATER"} 1',
      )
      expect(metrics).toMatch(/annals_command_duration_seconds_count\{aggregate="Tank",command="fill"\} 1/)
      expect(metrics).toMatch(/annals_projection_lag_events\{projection="tankLevel"\} \d+/)
      expect(metrics).toMatch(/annals_projection_dead_letters\{projection="tankLevel"\} 0/)
      expect(metrics).toMatch(/annals_projection_held_events\{projection="tankLevel"\} 0/)
    } finally {
      await gateway.close()
    }
  })

  it('reports the cluster: local and forwarded commands, appends and the commands decided in them', async () => {
    const gateway = await startGateway({ cluster: createCluster({ env: {}, peers: [] }) })
    try {
      await gateway.gql(fill('c1'))
      await gateway.gql(fill('c2'))
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text()
      expect(metrics).toContain('annals_cluster_commands{route="local"} 2')
      expect(metrics).toContain('annals_cluster_commands{route="forwarded"} 0')
      expect(metrics).toMatch(/^annals_appends 2$/m)
      expect(metrics).toMatch(/^annals_appended_commands 2$/m)
      expect(metrics).toMatch(/^annals_hosted_aggregates 2$/m)
      expect(metrics).toMatch(/^annals_conflict_retries 0$/m)
    } finally {
      await gateway.close()
    }
  })

  it('is not ready while the store does not answer', async () => {
    const gateway = await startGateway({
      wrapStore: (store) => ({ ...store, headPosition: () => Promise.reject(new Error('unreachable')) }),
      readSide: undefined,
    })
    try {
      const ready = await fetch(`${gateway.url}/health/ready`)
      expect(ready.status).toBe(503)
      expect(await ready.json()).toMatchObject({ reasons: ['the event store does not answer'] })
    } finally {
      await gateway.close()
    }
  })
})

describe('errors', () => {
  it('hides an unexpected failure behind INTERNAL and logs it under the request id', async () => {
    const lines: string[] = []
    const gateway = await startGateway({
      aggregates: [FaultyTank],
      readSide: undefined,
      logger: { level: 'error', stream: { write: (line: string) => void lines.push(line) } },
    })
    try {
      const { body } = await gateway.gql('mutation { explode(id: "x") { revision } }')
      const error = body.errors?.[0]
      expect(error?.extensions).toEqual({ code: 'INTERNAL' })
      expect(JSON.stringify(body)).not.toMatch(/hunter2|db-internal|at .*\.ts/)
      const requestId = /request ([0-9a-f-]{36})/.exec(error?.message ?? '')?.[1]
      expect(requestId).toBeDefined()
      expect(lines.some((line) => line.includes(requestId ?? '?') && line.includes('hunter2'))).toBe(true)
    } finally {
      await gateway.close()
    }
  })
})

describe('configuration', () => {
  it('stops start-up on a bad variable with a message naming it', async () => {
    await expect(
      createServer({ aggregates: [Tank], env: { PORT: 'eighty' }, logger: false }),
    ).rejects.toThrow(/PORT="eighty"/)
    await expect(
      createServer({ aggregates: [Tank], env: { EVENTSTORE_URL: 'http://x' }, logger: false }),
    ).rejects.toThrow(/EVENTSTORE_URL/)
  })

  it.each([
    ["on the service's thread", {}],
    ['on a thread of its own (ANNALS_DEVSTORE_THREAD=true)', { ANNALS_DEVSTORE_THREAD: 'true' }],
  ])(
    'runs on a devstore %s when given no store, and closes it on shutdown: the next server on its directory reads what it wrote',
    async (_where, env) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'annals-server-devstore-'))
      try {
        const start = () =>
          createServer({
            aggregates: [Tank],
            readSide: createReadSide({ projections: [TankLevel] }),
            env: { NODE_ENV: 'test', ...env },
            dataDir,
            logger: false,
          })
        const app = await start()
        await app.listen({ port: 0, host: '127.0.0.1' })
        const address = app.server.address()
        const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
        const reply = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: fill('dev1') }),
        })
        expect(((await reply.json()) as { data: { fill: { token: string } } }).data.fill.token).toMatch(
          /^[0-9]+$/,
        )
        await app.close()
        await expect(app.annals.store.headPosition()).rejects.toThrow()
        // A devstore left open would still hold the directory's lock, and this one would refuse to start.
        const next = await start()
        try {
          const types: string[] = []
          for await (const event of next.annals.store.readStream('Tank-dev1')) types.push(event.type)
          expect(types).toEqual(['TankFilled'])
        } finally {
          await next.close()
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true })
      }
    },
  )

  it.each([
    ['keeps its system projections stopped by default, as a production EventStoreDB node does', {}, false],
    [
      'runs them with ANNALS_DEVSTORE_SYSTEM_PROJECTIONS=true',
      { ANNALS_DEVSTORE_SYSTEM_PROJECTIONS: 'true' },
      true,
    ],
    ['keeps them stopped on a thread of its own too', { ANNALS_DEVSTORE_THREAD: 'true' }, false],
  ])('its devstore %s', async (_what, env, linked) => {
    const app = await createServer({ aggregates: [Tank], env: { NODE_ENV: 'test', ...env }, logger: false })
    try {
      expect(await linksAfterFill(app, 'links1')).toBe(linked)
    } finally {
      await app.close()
    }
  })

  it('its devstore keeps them stopped on a data directory where they ran before', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'annals-server-links-'))
    const start = (env: Record<string, string>) =>
      createServer({ aggregates: [Tank], env: { NODE_ENV: 'test', ...env }, dataDir, logger: false })
    try {
      const before = await start({ ANNALS_DEVSTORE_SYSTEM_PROJECTIONS: 'true' })
      try {
        expect(await linksAfterFill(before, 'links2')).toBe(true)
      } finally {
        await before.close()
      }
      // Their checkpoints in the directory say they ran; the configuration says they do not.
      const after = await start({})
      try {
        expect(await linksAfterFill(after, 'links3')).toBe(false)
      } finally {
        await after.close()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('graceful shutdown', () => {
  it('stops taking work, lets the command in flight finish, and closes subscriptions as going away', async () => {
    let release: () => void = () => undefined
    let entered: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const appending = new Promise<void>((resolve) => (entered = resolve))
    const gated = (store: EventStore): EventStore => ({
      ...store,
      appendToStream: async (...args) => {
        if (args[0] === 'Tank-slow') {
          entered()
          await gate
        }
        return store.appendToStream(...args)
      },
    })
    const gateway = await startGateway({ wrapStore: gated })
    const client = connectClient(gateway.wsUrl)
    const feed = subscribe(client, 'subscription { tankLevelChanged(tankId: "x") { kind } }')
    await feed.take(1)
    const inFlight = gateway.gql(fill('slow'))
    await appending
    const closing = gateway.close()
    const [closed] = await feed.errors
    expect(closed?.message).toBe('The server is shutting down')
    release()
    const { status, body } = await inFlight
    expect(status).toBe(200)
    expect(body.data?.['fill']).toMatchObject({ token: expect.stringMatching(/^[0-9]+$/) as unknown })
    await client.dispose()
    await closing
  })
})
