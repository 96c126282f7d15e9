/* eslint-disable @typescript-eslint/no-unsafe-member-access -- GraphQL replies are untyped JSON */
// Annals mounted as a fastify plugin into an application that has its own instance and routes.
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { annals } from 'annals'
import { createReadSide } from 'annals/projections'
import { startDevStoreStore } from './fixtures/start-gateway.ts'
import { Tank, TankLevel } from './fixtures/tank.ts'

describe('app.register(annals, …) into an existing fastify application', () => {
  let app: FastifyInstance
  let url = ''
  let store: Awaited<ReturnType<typeof startDevStoreStore>>
  beforeAll(async () => {
    store = await startDevStoreStore()
    // The application's own instance: its own body limit (10 MiB) and routes, registered before and after.
    app = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 })
    app.get('/hello', () => ({ hello: 'from the application' }))
    await app.register(annals, {
      aggregates: [Tank],
      readSide: createReadSide({ projections: [TankLevel] }),
      store: store.store,
      env: { NODE_ENV: 'test' },
      limits: { maxBodyBytes: 2048 },
    })
    app.post('/echo', (request) => request.body)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  })
  afterAll(async () => {
    await app.close()
    await store.close()
  })

  const gql = async (query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    })
    return { status: response.status, body: (await response.json()) as { data?: any; errors?: any[] } } // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  it('serves the application routes beside the gateway', async () => {
    expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: 'from the application' })
    const echoed = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x'.repeat(4096) }),
    })
    expect(echoed.status).toBe(200)
  })

  it('runs a mutation, and a query consistent with it from the read side started on ready', async () => {
    const written = await gql('mutation { fill(id: "p1", input: { site: "s", litres: 3 }) { token } }')
    expect(written.body.errors).toBeUndefined()
    const read = await gql('query($t: String) { tankLevel(tankId: "p1", consistentWith: $t) { litres } }', {
      t: written.body.data.fill.token,
    })
    expect(read.body).toEqual({ data: { tankLevel: { litres: 3 } } })
    expect((await fetch(`${url}/health/ready`)).status).toBe(200)
  })

  it("keeps the gateway's body limit on /graphql, below the application's", async () => {
    const { status, body } = await gql(`{ tankLevel(tankId: "${'x'.repeat(4096)}") { litres } }`)
    expect(status).toBe(413)
    expect(body.errors?.[0]?.extensions.code).toBe('LIMIT_EXCEEDED')
  })
})
