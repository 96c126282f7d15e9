import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AnyAggregate } from '../framework/aggregate/define-aggregate.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import type { Cluster } from '../framework/sharding/cluster.ts'
import { createCluster, type CreateClusterOptions } from '../framework/sharding/create-cluster.ts'

/** In-process replicas for the sharding benchmarks: real HTTP on loopback between them, one shared store. */
export interface BenchReplica {
  readonly url: string
  readonly cluster: Cluster
  readonly http: FastifyInstance
}

export async function startBenchReplicas(
  count: number,
  store: EventStore,
  aggregates: readonly AnyAggregate[],
  options: Partial<CreateClusterOptions> = {},
): Promise<{ replicas: BenchReplica[]; close(): Promise<void> }> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createHttpServer()
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
    }),
  )
  const peers = servers.map((s) => s.url)
  const replicas = await Promise.all(
    servers.map(async ({ server, url }) => {
      let ready = false
      const http = Fastify({
        serverFactory: (handler) =>
          server.on('request', (req, res) => (ready ? handler(req, res) : res.writeHead(503).end())),
        logger: false,
      })
      const cluster = await createCluster({
        env: {},
        peers,
        secret: 'bench-cluster-secret-0123456789',
        probeIntervalMs: 200,
        probeTimeoutMs: 2000,
        ...options,
      }).create({ store, aggregates, http, selfUrl: url })
      await http.ready()
      ready = true
      return { url, cluster, http }
    }),
  )
  for (const replica of replicas) await untilAllAlive(replica, count)
  return {
    replicas,
    async close() {
      for (const replica of replicas) {
        await replica.cluster.close()
        await replica.http.close()
      }
    },
  }
}

function untilAllAlive(replica: BenchReplica, count: number): Promise<void> {
  const alive = () => replica.cluster.status().members.filter((m) => m.state === 'alive').length === count
  if (alive()) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = replica.cluster.onChange(() => {
      if (!alive()) return
      stop()
      resolve()
    })
  })
}
