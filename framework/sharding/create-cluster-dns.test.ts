import { createCommandBus } from '../command/create-command-bus.ts'
import { createServer as createHttpServer } from 'node:http'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import { AnnalsError } from '../errors.ts'
import { createCluster } from './create-cluster.ts'
import {
  dnsReplicas,
  listen,
  listenOnLoopbacks,
  ring,
  service,
  untilRingIs,
  urlOf,
} from '../../test/support/dns-replicas.fixture.ts'
import type { LoopbackDns } from '../../test/support/loopback-dns.fixture.ts'

const { store, startReplica, startDnsReplicas, loopbackDns } = dnsReplicas()

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
      .create({
        local: createCommandBus({ store, aggregates: [Counter] }),
        http,
        selfUrl: 'http://127.0.0.1:1',
      })
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
