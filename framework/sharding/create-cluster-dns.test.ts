import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import { AnnalsError } from '../errors.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import type { Cluster } from './cluster.ts'
import { createCluster, type CreateClusterOptions } from './create-cluster.ts'
import { startLoopbackDns, type LoopbackDns } from './loopback-dns.fixture.ts'

const secret = 'a-cluster-secret-for-tests'
const service = 'annals-internal.default.svc.cluster.local'
const store = createInMemoryEventStore()

interface Replica {
  readonly url: string
  readonly http: FastifyInstance
  readonly cluster: Cluster
  readonly log: LogLines
}

const running: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop()
})

/** Free sockets on one port of several loopback addresses: A records carry addresses, not ports. */
async function listenOnLoopbacks(count: number): Promise<Server[]> {
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

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

function urlOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo
  return `http://${address}:${port}`
}

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
  const created = await createCluster({
    env: {},
    secret,
    probeIntervalMs: 50,
    probeTimeoutMs: 500,
    probeMisses: 2,
    discoverIntervalMs: 30,
    dnsTimeoutMs: 50,
    ...cluster,
  }).create({ store, aggregates: [Counter], http, selfUrl: url })
  await http.ready()
  ready = true
  running.push(async () => {
    await created.close()
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

function ring(replica: Replica): string[] {
  return replica.cluster
    .status()
    .members.filter((m) => m.state === 'alive')
    .map((m) => m.url)
}

/** Resolves once the replica's live members are exactly `urls`. */
function untilRingIs(replica: Replica, urls: readonly string[]): Promise<void> {
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

interface LogLines {
  readonly stream: Writable
  /** Resolves with the next line that contains `text` (or one already written). */
  next(text: string): Promise<string>
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

describe('createCluster with ANNALS_PEERS_DNS', () => {
  it('finds its peers in the A records of the headless service', async () => {
    const dns = await loopbackDns()
    const servers = await listenOnLoopbacks(3)
    const urls = servers.map(urlOf)
    dns.set(service, { a: urls.map((url) => new URL(url).hostname) })
    const replicas = await startDnsReplicas(servers, dns)
    await Promise.all(replicas.map((replica) => untilRingIs(replica, urls)))
    expect(ring(replicas[0]!)).toEqual([...urls].sort())
  })

  it('adds a replica whose record appears at the next re-resolve', async () => {
    const dns = await loopbackDns()
    const servers = await listenOnLoopbacks(3)
    const [a, b, c] = servers.map(urlOf) as [string, string, string]
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3'] })
    const [first, second] = await startDnsReplicas(servers.slice(0, 2), dns)
    await untilRingIs(first!, [a, b])
    // A static replica never probes the others, so only DNS can bring it into their ring.
    await startReplica(servers[2]!, { peers: [c] })
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3', '127.0.0.4'] })
    await Promise.all([untilRingIs(first!, [a, b, c]), untilRingIs(second!, [a, b, c])])
  })

  it('drops a replica whose record disappears at the next re-resolve, though it still answers', async () => {
    const dns = await loopbackDns()
    const servers = await listenOnLoopbacks(3)
    const [a, b, c] = servers.map(urlOf) as [string, string, string]
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3', '127.0.0.4'] })
    const [first] = await startDnsReplicas(servers.slice(0, 2), dns)
    await startReplica(servers[2]!, { peers: [c] })
    await untilRingIs(first!, [a, b, c])
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3'] })
    await untilRingIs(first!, [a, b])
    expect(first!.cluster.status().members.map((m) => m.url)).toEqual([a, b])
  })

  it.each([
    ['answers SERVFAIL', 'ESERVFAIL', (dns: LoopbackDns) => Promise.resolve(dns.behave('servfail'))],
    ['does not answer', 'ETIMEOUT', (dns: LoopbackDns) => Promise.resolve(dns.behave('drop'))],
    ['is down', 'ECONNREFUSED', (dns: LoopbackDns) => dns.close()],
  ])('keeps the peers it knows and logs a warning when DNS %s', async (_, code, fail) => {
    const dns = await loopbackDns()
    const servers = await listenOnLoopbacks(2)
    const urls = servers.map(urlOf)
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3'] })
    const [first] = await startDnsReplicas(servers, dns)
    await untilRingIs(first!, urls)
    await fail(dns)
    const warning = JSON.parse(await first!.log.next(code)) as { msg: string; err: { message: string } }
    expect(warning.msg).toBe('annals cluster: peer discovery failed')
    expect(warning.err.message).toMatch(new RegExp(`^DNS A{1,4} ${service}: ${code}\\b`))
    // The warning is written after the failed re-resolve has returned: whatever it changed is visible now.
    expect(ring(first!)).toEqual(urls)
  })

  it('follows DNS again once it answers after a failure', async () => {
    const dns = await loopbackDns()
    const servers = await listenOnLoopbacks(3)
    const [a, b, c] = servers.map(urlOf) as [string, string, string]
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3'] })
    const [first] = await startDnsReplicas(servers.slice(0, 2), dns)
    await startReplica(servers[2]!, { peers: [c] })
    await untilRingIs(first!, [a, b])
    dns.behave('servfail')
    await first!.log.next('ESERVFAIL')
    dns.set(service, { a: ['127.0.0.2', '127.0.0.3', '127.0.0.4'] })
    dns.behave('answer')
    await untilRingIs(first!, [a, b, c])
  })

  it('finds its peers on their own ports in SRV records, for a name that starts with _', async () => {
    const dns = await loopbackDns()
    const servers = await Promise.all([0, 1, 2].map(() => listen(createHttpServer(), 0, '127.0.0.1')))
    const urls = servers.map(urlOf)
    const named = `_http._tcp.${service}`
    dns.set(named, {
      srv: urls.map((url, i) => ({ target: `annals-${i}.${service}`, port: Number(new URL(url).port) })),
    })
    urls.forEach((_, i) => dns.set(`annals-${i}.${service}`, { a: ['127.0.0.1'] }))
    const replicas = await Promise.all(
      servers.map((server) => startReplica(server, { peersDns: named, dnsServers: [dns.address] })),
    )
    await Promise.all(replicas.map((replica) => untilRingIs(replica, urls)))
    expect(dns.queries).toContain(`SRV ${named}`)
  })

  it.each([
    ['ANNALS_PEERS_DNS', { ANNALS_PEERS_DNS: 'annals-internal' }],
    ['ANNALS_DNS_SERVERS', { ANNALS_PEERS_DNS: service, ANNALS_DNS_SERVERS: 'ns1.example' }],
    ['ANNALS_DNS_TIMEOUT_MS', { ANNALS_PEERS_DNS: service, ANNALS_DNS_TIMEOUT_MS: 'soon' }],
  ])('refuses to start with BAD_CONFIG naming %s when it is wrong', async (name, env) => {
    const http = Fastify()
    const error = await createCluster({ env })
      .create({ store, aggregates: [Counter], http, selfUrl: 'http://127.0.0.1:1' })
      .then(
        () => new Error('started'),
        (reason: unknown) => reason as AnnalsError,
      )
    await http.close()
    expect(error).toBeInstanceOf(AnnalsError)
    expect((error as AnnalsError).code).toBe('BAD_CONFIG')
    expect(error.message).toMatch(new RegExp(`^${name}: `))
  })
})
