import { z } from 'zod'
import { AnnalsError } from '../errors.ts'

const milliseconds = z.coerce.number().int().positive()

/**
 * The environment variables sharding reads, as a zod schema: the single list deploy/k8s is checked against.
 * Each is optional; without ANNALS_PEERS or ANNALS_PEERS_DNS the replica is a cluster of one.
 */
export const ClusterEnvironment = z.object({
  /** Comma-separated internal URLs of every replica, self included. */
  ANNALS_PEERS: z.string().optional(),
  /**
   * A fully qualified DNS name (a Kubernetes headless service) whose A/AAAA records are the replicas, or
   * whose SRV records are when it starts with `_` (`_http._tcp.<service>.<namespace>.svc.cluster.local`).
   */
  ANNALS_PEERS_DNS: z.string().optional(),
  /** Comma-separated DNS servers (`ip` or `ip:port`) to resolve ANNALS_PEERS_DNS on; default the system's. */
  ANNALS_DNS_SERVERS: z.string().optional(),
  /** How long one DNS query may take before it is sent again (twice at most) or fails. */
  ANNALS_DNS_TIMEOUT_MS: milliseconds.optional(),
  /** This replica's internal URL as peers reach it (in Kubernetes: http://$(POD_IP):port). */
  ANNALS_SELF_URL: z.url().optional(),
  /** The port of the internal channel for addresses found by DNS; defaults to the server's port. */
  ANNALS_INTERNAL_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** The shared secret of the internal channel; required in production. */
  ANNALS_CLUSTER_SECRET: z.string().min(16, 'needs at least 16 characters').optional(),
  ANNALS_PROBE_INTERVAL_MS: milliseconds.optional(),
  ANNALS_PROBE_TIMEOUT_MS: milliseconds.optional(),
  /** Consecutive missed probes after which a peer leaves the ring. */
  ANNALS_PROBE_MISSES: z.coerce.number().int().min(1).optional(),
  ANNALS_DISCOVER_INTERVAL_MS: milliseconds.optional(),
  ANNALS_FORWARD_TIMEOUT_MS: milliseconds.optional(),
  NODE_ENV: z.string().optional(),
})
export type ClusterEnvironment = z.infer<typeof ClusterEnvironment>

/** The names of the environment variables sharding reads. */
export const clusterEnvironmentNames: readonly string[] = Object.keys(ClusterEnvironment.shape)

export interface ClusterSettings {
  readonly peers?: readonly string[]
  readonly peersDns?: string
  readonly dnsServers?: readonly string[]
  readonly dnsTimeoutMs?: number
  readonly selfUrl?: string
  readonly internalPort?: number
  readonly secret?: string
  readonly probeIntervalMs?: number
  readonly probeTimeoutMs?: number
  readonly probeMisses?: number
  readonly discoverIntervalMs?: number
  readonly forwardTimeoutMs?: number
  readonly production?: boolean
}

/** Reads the cluster settings from the environment; BAD_CONFIG names the variable that is wrong. */
export function clusterSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ClusterSettings {
  const parsed = ClusterEnvironment.safeParse(
    Object.fromEntries(Object.entries(env).filter(([k, v]) => k in ClusterEnvironment.shape && v !== '')),
  )
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new AnnalsError('BAD_CONFIG', `${issue.path.join('.')}: ${issue.message}`)
  }
  const e = parsed.data
  const settings: Record<string, unknown> = {
    peers: list(e.ANNALS_PEERS),
    peersDns: e.ANNALS_PEERS_DNS,
    dnsServers: list(e.ANNALS_DNS_SERVERS),
    dnsTimeoutMs: e.ANNALS_DNS_TIMEOUT_MS,
    selfUrl: e.ANNALS_SELF_URL,
    internalPort: e.ANNALS_INTERNAL_PORT,
    secret: e.ANNALS_CLUSTER_SECRET,
    probeIntervalMs: e.ANNALS_PROBE_INTERVAL_MS,
    probeTimeoutMs: e.ANNALS_PROBE_TIMEOUT_MS,
    probeMisses: e.ANNALS_PROBE_MISSES,
    discoverIntervalMs: e.ANNALS_DISCOVER_INTERVAL_MS,
    forwardTimeoutMs: e.ANNALS_FORWARD_TIMEOUT_MS,
    production: e.NODE_ENV === 'production',
  }
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined))
}

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}
