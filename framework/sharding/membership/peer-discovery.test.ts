import { afterEach, describe, expect, it } from 'vitest'
import { AnnalsError } from '../../errors.ts'
import { startLoopbackDns, type LoopbackDns } from '../../../test/support/loopback-dns.fixture.ts'
import { createPeerDiscovery, type PeerDiscoveryOptions } from './peer-discovery.ts'

const service = 'annals-internal.default.svc.cluster.local'
const named = `_http._tcp.${service}`
const self = 'http://10.0.0.1:4000'

const servers: LoopbackDns[] = []
afterEach(async () => {
  for (const dns of servers.splice(0)) await dns.close()
})

async function dnsServer(): Promise<LoopbackDns> {
  const dns = await startLoopbackDns()
  servers.push(dns)
  return dns
}

function discoveryOn(dns: LoopbackDns, overrides: Partial<PeerDiscoveryOptions> = {}) {
  return createPeerDiscovery({
    self,
    peersDns: service,
    dnsServers: [dns.address],
    dnsTimeoutMs: 100,
    ...overrides,
  })
}

function thrownBy(build: () => unknown): AnnalsError {
  try {
    build()
  } catch (error) {
    if (error instanceof AnnalsError) return error
    throw error
  }
  throw new Error('expected BAD_CONFIG, nothing was thrown')
}

describe('createPeerDiscovery', () => {
  it('lists one URL per A record, on the port of this replica', async () => {
    const dns = await dnsServer()
    dns.set(service, { a: ['10.0.0.2', '10.0.0.1', '10.0.0.3'] })
    expect(await discoveryOn(dns)()).toEqual([
      'http://10.0.0.1:4000',
      'http://10.0.0.2:4000',
      'http://10.0.0.3:4000',
    ])
    expect(dns.queries).toEqual([`A ${service}`, `AAAA ${service}`])
  })

  it('uses the internal port when one is given', async () => {
    const dns = await dnsServer()
    dns.set(service, { a: ['10.0.0.2'] })
    expect(await discoveryOn(dns, { internalPort: 9000 })()).toEqual(['http://10.0.0.2:9000'])
  })

  it('lists AAAA records in brackets, as a URL spells them', async () => {
    const dns = await dnsServer()
    dns.set(service, { aaaa: ['fd00::2'], a: ['10.0.0.2'] })
    expect(await discoveryOn(dns)()).toEqual(['http://10.0.0.2:4000', 'http://[fd00::2]:4000'])
  })

  it('follows SRV records for a name that starts with _, each target on its own port', async () => {
    const dns = await dnsServer()
    dns.set(named, {
      srv: [
        { target: `annals-0.${service}`, port: 4000 },
        { target: `annals-1.${service}`, port: 4001 },
      ],
    })
    dns.set(`annals-0.${service}`, { a: ['10.0.0.1'] })
    dns.set(`annals-1.${service}`, { a: ['10.0.0.2'] })
    expect(await discoveryOn(dns, { peersDns: named })()).toEqual([
      'http://10.0.0.1:4000',
      'http://10.0.0.2:4001',
    ])
  })

  it('sees a record that appears or disappears on the next resolution', async () => {
    const dns = await dnsServer()
    const discover = discoveryOn(dns)
    dns.set(service, { a: ['10.0.0.1', '10.0.0.2'] })
    expect(await discover()).toHaveLength(2)
    dns.set(service, { a: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] })
    expect(await discover()).toContain('http://10.0.0.3:4000')
    dns.set(service, { a: ['10.0.0.1', '10.0.0.3'] })
    expect(await discover()).toEqual(['http://10.0.0.1:4000', 'http://10.0.0.3:4000'])
  })

  it('rejects, naming the name, when the server answers SERVFAIL', async () => {
    const dns = await dnsServer()
    dns.set(service, { a: ['10.0.0.1'] })
    dns.behave('servfail')
    await expect(discoveryOn(dns)()).rejects.toThrow(`${service}: ESERVFAIL`)
  })

  it('rejects when the server does not answer within the timeout', async () => {
    const dns = await dnsServer()
    dns.behave('drop')
    await expect(discoveryOn(dns)()).rejects.toThrow(`${service}: ETIMEOUT`)
  })

  it('rejects when no server listens', async () => {
    const dns = await dnsServer()
    const discover = discoveryOn(dns)
    await dns.close()
    servers.length = 0
    await expect(discover()).rejects.toThrow(`${service}: ECONNREFUSED`)
  })

  it('rejects a name without records rather than listing no peers', async () => {
    const dns = await dnsServer()
    await expect(discoveryOn(dns)()).rejects.toThrow('no addresses')
    await expect(discoveryOn(dns, { peersDns: named })()).rejects.toThrow(`${named}: ENOTFOUND`)
  })

  it.each([
    ['annals-internal', /ANNALS_PEERS_DNS: "annals-internal" is not fully qualified/],
    ['http://annals.default.svc', /ANNALS_PEERS_DNS: "http:\/\/annals.default.svc" is not a DNS name/],
    ['annals..svc', /ANNALS_PEERS_DNS: "annals..svc" is not a DNS name/],
    ['-annals.svc', /is not a DNS name/],
  ])('refuses %s as ANNALS_PEERS_DNS with BAD_CONFIG', (peersDns, message) => {
    const error = thrownBy(() => createPeerDiscovery({ self, peersDns }))
    expect(error.code).toBe('BAD_CONFIG')
    expect(error.message).toMatch(message)
  })

  it.each([['dns.local'], ['127.0.0.1:0'], ['127.0.0.1:65536'], ['10.0.0.1:53x'], ['[::1']])(
    'refuses %s as a DNS server with BAD_CONFIG naming ANNALS_DNS_SERVERS',
    (server) => {
      const error = thrownBy(() => createPeerDiscovery({ self, peersDns: service, dnsServers: [server] }))
      expect(error.code).toBe('BAD_CONFIG')
      expect(error.message).toContain(`ANNALS_DNS_SERVERS: "${server}"`)
    },
  )

  it('accepts servers with and without a port, IPv4 and IPv6', () => {
    const dnsServers = ['10.0.0.10', '10.0.0.10:5353', '::1', '[fd00::10]:53']
    expect(() => createPeerDiscovery({ self, peersDns: service, dnsServers })).not.toThrow()
  })

  it('lists a static list of peers once each, spelled as origins', async () => {
    const peers = ['http://127.0.0.1:4002/', 'http://127.0.0.1:4001', 'http://127.0.0.1:4002']
    expect(await createPeerDiscovery({ self, peers })()).toEqual([
      'http://127.0.0.1:4001',
      'http://127.0.0.1:4002',
    ])
  })
})
