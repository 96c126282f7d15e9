import { createCommandBus } from '../../framework/command/create-command-bus.ts'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AnyAggregate } from '../../framework/aggregate/define-aggregate.ts'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import type { Cluster } from '../../framework/sharding/cluster.ts'
import { createCluster, type CreateClusterOptions } from '../../framework/sharding/create-cluster.ts'

/** A replica in this process: its cluster on a real loopback HTTP server (for sharding tests and benches). */
export interface InProcessReplica {
  readonly url: string
  readonly server: Server
  readonly http: FastifyInstance
  readonly cluster: Cluster
  /** Leaves the ring and closes the cluster, the fastify app and the HTTP server with its connections. */
  close(): Promise<void>
}

/**
 * Starts `count` replicas sharing one store. It listens on free loopback ports first, so every replica knows
 * every peer's URL before its cluster starts, and resolves once every ring has all of them alive.
 */
export async function startInProcessReplicas(options: {
  readonly count: number
  readonly store: EventStore
  readonly aggregates: readonly AnyAggregate[]
  readonly cluster: Partial<CreateClusterOptions> & { readonly secret: string }
}): Promise<InProcessReplica[]> {
  const servers = await Promise.all(
    Array.from({ length: options.count }, async () => {
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
        // Peers probe before this replica's routes are ready: answer them 503 as a starting server would.
        serverFactory: (handler) =>
          server.on('request', (req, res) => (ready ? handler(req, res) : res.writeHead(503).end())),
        logger: false,
      })
      const local = createCommandBus({ store: options.store, aggregates: options.aggregates })
      const cluster = await createCluster({ env: {}, peers, ...options.cluster }).create({
        local,
        http,
        selfUrl: url,
      })
      await http.ready()
      ready = true
      const close = async () => {
        await cluster.close()
        local.close()
        await http.close()
        // fastify did not listen on this server (it was started first), so it does not close it either.
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      }
      return { url, server, http, cluster, close }
    }),
  )
  await Promise.all(replicas.map((replica) => untilRingHas(replica, options.count)))
  return replicas
}

/** Resolves once the replica's ring has `size` members alive. */
export function untilRingHas(replica: InProcessReplica, size: number): Promise<void> {
  const alive = () => replica.cluster.status().members.filter((m) => m.state === 'alive').length
  if (alive() === size) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = replica.cluster.onChange(() => {
      if (alive() !== size) return
      stop()
      resolve()
    })
  })
}
