/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- GraphQL replies are untyped JSON */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createCluster } from 'annals'
import { createServer } from '../../framework/server/create-server.ts'
import { reservePorts } from '../cluster/cluster-harness.ts'
import { opsReadSide } from './fixtures/ops-app.ts'
import { opsRequest } from './fixtures/ops-client.ts'
import { startDevStoreStore } from './fixtures/start-gateway.ts'
import { Tank } from './fixtures/tank.ts'

const secret = 'the-cluster-secret-of-the-ring-test'
const ringQuery = '{ ring { sharded self members { url state self hostedAggregates } } }'

describe('the operations endpoint of a sharded service', () => {
  let devstore: Awaited<ReturnType<typeof startDevStoreStore>>
  let replicas: { app: FastifyInstance; url: string }[]
  const closed = new Set<FastifyInstance>()

  beforeAll(async () => {
    devstore = await startDevStoreStore()
    const ports = await reservePorts(2)
    const urls = ports.map((port) => `http://127.0.0.1:${port}`)
    replicas = await Promise.all(
      ports.map(async (port, index) => {
        const url = urls[index]!
        const app = await createServer({
          aggregates: [Tank],
          readSide: opsReadSide(),
          store: devstore.store,
          cluster: createCluster({ env: {}, peers: urls, secret, probeIntervalMs: 50, probeTimeoutMs: 500 }),
          selfUrl: url,
          logger: false,
          env: { NODE_ENV: 'test' },
        })
        await app.listen({ port, host: '127.0.0.1' })
        return { app, url }
      }),
    )
  })
  afterAll(async () => {
    await Promise.all(replicas.filter(({ app }) => !closed.has(app)).map(({ app }) => app.close()))
    await devstore.close()
  })

  it('refuses a request without the cluster secret, and answers one with it', async () => {
    const [a] = replicas
    expect((await opsRequest(a!.url, ringQuery)).status).toBe(401)
    expect((await opsRequest(a!.url, ringQuery, { token: 'not-the-cluster-secret' })).status).toBe(401)
    expect((await opsRequest(a!.url, ringQuery, { token: secret })).status).toBe(200)
  })

  it('lists every member alive with the aggregates each hosts, which add up to the aggregates commanded', async () => {
    const [a, b] = replicas
    const tanks = Array.from({ length: 24 }, (_, i) => `ring-tank-${i}`)
    for (const id of tanks) {
      const response = await fetch(`${a!.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: `mutation { fill(id: "${id}", input: { site: "s", litres: 1 }) { token } }`,
        }),
      })
      expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined()
    }
    const ring = await vi.waitFor(
      async () => {
        const reply = await opsRequest(b!.url, ringQuery, { token: secret })
        const members = reply.body.data!['ring'].members as { state: string }[]
        expect(members.map((member) => member.state)).toEqual(['ALIVE', 'ALIVE'])
        return reply.body.data!['ring']
      },
      { timeout: 10_000, interval: 50 },
    )
    expect(ring).toMatchObject({ sharded: true, self: b!.url })
    const members = ring.members as { url: string; self: boolean; hostedAggregates: number }[]
    expect(members.map((member) => member.url).sort()).toEqual([a!.url, b!.url].sort())
    expect(members.find((member) => member.self)?.url).toBe(b!.url)
    expect(members.reduce((sum, member) => sum + member.hostedAggregates, 0)).toBe(tanks.length)
    expect(members.every((member) => member.hostedAggregates > 0)).toBe(true)
  })

  it('shows a member that stopped as no longer alive, with no count of aggregates', async () => {
    const [a, b] = replicas
    closed.add(a!.app)
    await a!.app.close()
    const gone = await vi.waitFor(
      async () => {
        const reply = await opsRequest(b!.url, ringQuery, { token: secret })
        const members = reply.body.data!['ring'].members as { url: string; state: string }[]
        const member = members.find((candidate) => candidate.url === a!.url)
        expect(member?.state).not.toBe('ALIVE')
        return member
      },
      { timeout: 10_000, interval: 50 },
    )
    expect(gone).toMatchObject({ hostedAggregates: null, self: false })
  })
})
