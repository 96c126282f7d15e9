import Fastify, { type FastifyInstance } from 'fastify'
import {
  createInMemoryEventStore,
  type InMemoryEventStore,
} from '../framework/event-store/in-memory-event-store.ts'
import { createServer, type ServerOptions } from '../framework/server/create-server.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { Tank, TankLevel } from '../test/e2e/fixtures/tank.ts'

/** The gateway (graphql-jit on, limits that do not bite) and a plain fastify app beside it, on loopback. */
export interface BenchServers {
  readonly store: InMemoryEventStore
  readonly gateway: FastifyInstance
  readonly gatewayUrl: string
  readonly plain: FastifyInstance
  readonly plainUrl: string
  close(): Promise<void>
}

export async function startBenchServers(options: Partial<ServerOptions> = {}): Promise<BenchServers> {
  const store = createInMemoryEventStore()
  const gateway = await createServer({
    aggregates: [Tank],
    readSide: createReadSide({ projections: [TankLevel] }),
    store,
    logger: false,
    env: { NODE_ENV: 'production' },
    // Production as deployed, but anonymous on loopback and with /metrics beside the gateway.
    auth: 'none',
    metrics: 'main',
    // The load generator's clients all come from one loopback address.
    limits: { rateLimit: false, maxPageSize: 1000, maxConnectionsPerAddress: 10_000 },
    ...options,
  })
  const plain = Fastify({ logger: false })
  return {
    store,
    gateway,
    gatewayUrl: await listen(gateway),
    plain,
    plainUrl: '',
    async close() {
      await plain.close()
      await gateway.close()
    },
  }
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
}
