import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import { AnnalsError } from '../../errors.ts'

export interface PeerDiscoveryOptions {
  /** This replica's internal URL; its port is the peers' port for addresses found by A/AAAA records. */
  readonly self: string
  /** A static list of internal URLs, used when `peersDns` is not given. */
  readonly peers?: readonly string[]
  /**
   * A fully qualified DNS name: its A/AAAA records are the replicas (on `internalPort`), or, for a name that
   * starts with `_` (`_http._tcp.<service>...`), its SRV records are, each on its own port.
   */
  readonly peersDns?: string
  readonly internalPort?: number
  /** The DNS servers to ask (`ip` or `ip:port`); default the system's (/etc/resolv.conf). */
  readonly dnsServers?: readonly string[]
  /** How long one DNS query may take before it is sent again (twice at most) or fails. */
  readonly dnsTimeoutMs?: number
}

/** Lists the peers' internal URLs, sorted; rejects when DNS fails, so the caller keeps what it knew. */
export type PeerDiscovery = () => Promise<readonly string[]>

const absent = new Set(['ENODATA', 'ENOTFOUND'])

/**
 * Builds peer discovery from a static list or from DNS (a Kubernetes headless Service), resolved by
 * node:dns's resolver on the servers given, so tests and operators can point it at a DNS server of their own.
 * Bad settings throw BAD_CONFIG naming the variable.
 */
export function createPeerDiscovery(options: PeerDiscoveryOptions): PeerDiscovery {
  if (options.peersDns === undefined) {
    const peers = [...new Set((options.peers ?? []).map(normalizeUrl))].sort()
    return () => Promise.resolve(peers)
  }
  const name = checkedDnsName(options.peersDns)
  const resolver = new Resolver({ timeout: options.dnsTimeoutMs ?? 1000, tries: 2 })
  if (options.dnsServers !== undefined) useServers(resolver, options.dnsServers)
  if (name.startsWith('_')) return () => resolveSrv(resolver, name)
  const port = options.internalPort ?? Number(new URL(options.self).port || 80)
  return async () => {
    const addresses = await addressesOf(resolver, name)
    if (addresses.length === 0) throw failure(name, 'A/AAAA', 'no addresses')
    return urls(addresses.map((address) => ({ address, port })))
  }
}

/** Peers and self must spell a URL the same way for every replica to compute the same owner. */
export function normalizeUrl(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    throw new AnnalsError('BAD_CONFIG', `"${url}" is not a URL (ANNALS_PEERS, ANNALS_SELF_URL)`)
  }
}

async function resolveSrv(resolver: Resolver, name: string): Promise<readonly string[]> {
  let records: Awaited<ReturnType<Resolver['resolveSrv']>>
  try {
    records = await resolver.resolveSrv(name)
  } catch (error) {
    throw failure(name, 'SRV', codeOf(error), error)
  }
  const found = await Promise.all(
    records.map(async ({ name: target, port }) =>
      (isIP(target) !== 0 ? [target] : await addressesOf(resolver, target)).map((address) => ({
        address,
        port,
      })),
    ),
  )
  if (found.flat().length === 0) throw failure(name, 'SRV', 'no addresses')
  return urls(found.flat())
}

/** The A and AAAA records of a name; a name or type without records gives none, any other error throws. */
async function addressesOf(resolver: Resolver, name: string): Promise<string[]> {
  const lookup = async (type: 'A' | 'AAAA') => {
    try {
      return await (type === 'A' ? resolver.resolve4(name) : resolver.resolve6(name))
    } catch (error) {
      if (absent.has(codeOf(error))) return []
      throw failure(name, type, codeOf(error), error)
    }
  }
  const [v4, v6] = await Promise.all([lookup('A'), lookup('AAAA')])
  return [...v4, ...v6]
}

function urls(found: readonly { address: string; port: number }[]): string[] {
  const spelled = found.map(({ address, port }) =>
    normalizeUrl(`http://${isIP(address) === 6 ? `[${address}]` : address}:${port}`),
  )
  return [...new Set(spelled)].sort()
}

function checkedDnsName(name: string): string {
  const bare = name.trim().replace(/\.$/, '')
  const labels = bare.split('.')
  if (bare.length > 253 || !labels.every((label) => /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/i.test(label))) {
    throw new AnnalsError('BAD_CONFIG', `ANNALS_PEERS_DNS: "${name}" is not a DNS name`)
  }
  if (labels.length < 2) {
    throw new AnnalsError(
      'BAD_CONFIG',
      `ANNALS_PEERS_DNS: "${name}" is not fully qualified; node:dns applies no search domains, so give ` +
        'the whole name (on Kubernetes <service>.<namespace>.svc.cluster.local)',
    )
  }
  return bare.toLowerCase()
}

function useServers(resolver: Resolver, servers: readonly string[]): void {
  if (servers.length === 0) throw new AnnalsError('BAD_CONFIG', 'ANNALS_DNS_SERVERS: lists no server')
  // Checked here, not left to setServers: node 20 aborts the process on port 0 and wraps ports past 65535.
  for (const server of servers) {
    const [, bracketed, plain, port] = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(server) ?? []
    const host = bracketed ?? plain ?? server
    const validPort = port === undefined || (Number(port) >= 1 && Number(port) <= 65535)
    const validHost = bracketed !== undefined ? isIP(host) === 6 : isIP(host) !== 0
    if (!validHost || !validPort) {
      throw new AnnalsError(
        'BAD_CONFIG',
        `ANNALS_DNS_SERVERS: "${server}" is not an IP address with an optional port (1.2.3.4:53, [::1]:53)`,
      )
    }
  }
  resolver.setServers(servers)
}

function failure(name: string, type: string, reason: string, cause?: unknown): Error {
  return new Error(`DNS ${type} ${name}: ${reason}`, cause === undefined ? {} : { cause })
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : String(error)
}
