import { createCommandBus } from '../../framework/command/create-command-bus.ts'
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach } from 'vitest'
import { Counter } from '../cluster/fixtures/counter.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { Cluster } from '../../framework/sharding/cluster.ts'
import { createCluster, type CreateClusterOptions } from '../../framework/sharding/create-cluster.ts'
import { startLoopbackDns, type LoopbackDns } from './loopback-dns.fixture.ts'

/** The headless service whose records name the replicas. */
export const service = 'annals-internal.default.svc.cluster.local'

export interface Replica {
  readonly url: string
  readonly http: FastifyInstance
  readonly cluster: Cluster
  readonly log: LogLines
}

export interface LogLines {
  readonly stream: Writable
  /** Resolves with the next line that contains `text` (or one already written). */
  next(text: string): Promise<string>
}

const secret = 'a-cluster-secret-for-tests'

/**
 * Gives what the DNS discovery tests start: replicas sharing one in-memory store, each on a socket of its own,
 * and loopback DNS servers. Whatever a test starts is stopped after it, last started first.
 */
export function dnsReplicas() {
  const store = createInMemoryEventStore()
  const running: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const stop of running.splice(0).reverse()) await stop()
  })

  /** A replica on its own socket, its cluster configured by `cluster`, its warnings collected. */
  async function startReplica(server: Server, cluster: Partial<CreateClusterOptions>): Promise<Replica> {
    const url = urlOf(server)
    const log = logLines()
    let ready = false
    const http = Fastify({
      // Peers probe before this replica's routes are ready: answer them 503 as a starting server would.
      serverFactory: (handler) =>
        server.on('request', (req, res) => (ready ? handler(req, res) : res.writeHead(503).end())),
      logger: { level: 'warn', stream: log.stream },
    })
    const local = createCommandBus({ store, aggregates: [Counter] })
    const created = await createCluster({
      env: {},
      secret,
      probeIntervalMs: 50,
      probeTimeoutMs: 500,
      probeMisses: 2,
      discoverIntervalMs: 30,
      dnsTimeoutMs: 50,
      ...cluster,
    }).create({ local, http, selfUrl: url })
    await http.ready()
    ready = true
    running.push(async () => {
      await created.close()
      local.close()
      await http.close()
    })
    return { url, http, cluster: created, log }
  }

  /** Replicas that find their peers in the A records of the headless service on `dns`. */
  function startDnsReplicas(servers: readonly Server[], dns: LoopbackDns) {
    return Promise.all(
      servers.map((server) => startReplica(server, { peersDns: service, dnsServers: [dns.address] })),
    )
  }

  async function loopbackDns(): Promise<LoopbackDns> {
    const dns = await startLoopbackDns()
    running.push(() => dns.close())
    return dns
  }

  return { store, startReplica, startDnsReplicas, loopbackDns }
}

/** Free sockets on one port of several loopback addresses: A records carry addresses, not ports. */
export async function listenOnLoopbacks(count: number): Promise<Server[]> {
  for (let attempt = 0; ; attempt++) {
    const servers: Server[] = []
    try {
      for (let i = 0; i < count; i++) {
        const port = i === 0 ? 0 : (servers[0]!.address() as AddressInfo).port
        servers.push(await listen(createHttpServer(), port, `127.0.0.${i + 2}`))
      }
      return servers
    } catch (error) {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
      if (attempt === 5) throw error
    }
  }
}

export function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

export function urlOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo
  return `http://${address}:${port}`
}

/** The URLs of the members this replica holds alive. */
export function ring(replica: Replica): string[] {
  return replica.cluster
    .status()
    .members.filter((m) => m.state === 'alive')
    .map((m) => m.url)
}

/** Resolves once the replica's live members are exactly `urls`. */
export function untilRingIs(replica: Replica, urls: readonly string[]): Promise<void> {
  const wanted = [...urls].sort().join(' ')
  if (ring(replica).join(' ') === wanted) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = replica.cluster.onChange(() => {
      if (ring(replica).join(' ') !== wanted) return
      stop()
      resolve()
    })
  })
}

function logLines(): LogLines {
  const lines: string[] = []
  const waiting: { text: string; resolve: (line: string) => void }[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString()
      lines.push(line)
      for (const waiter of waiting.filter((w) => line.includes(w.text))) {
        waiting.splice(waiting.indexOf(waiter), 1)
        waiter.resolve(line)
      }
      done()
    },
  })
  return {
    stream,
    next: (text) =>
      new Promise((resolve) => {
        const seen = lines.find((line) => line.includes(text))
        if (seen !== undefined) resolve(seen)
        else waiting.push({ text, resolve })
      }),
  }
}
