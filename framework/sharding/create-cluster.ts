import { AnnalsError } from '../errors.ts'
import type { Cluster, ClusterContext, ClusterOption, ClusterStatus, RingMember } from './cluster.ts'
import { clusterSettingsFromEnv, type ClusterSettings } from './cluster-config.ts'
import { createCommandRouter } from './routing/command-router.ts'
import { INTERNAL_PREFIX, registerInternalRoutes } from './wire/internal-routes.ts'
import { createMembership } from './membership/membership.ts'
import type { MembershipTimers, ProbeAnswer } from './membership/probe.ts'
import { carriesSecret, createPeerClient } from './wire/peer-client.ts'
import { createPeerDiscovery, normalizeUrl } from './membership/peer-discovery.ts'
import { aggregateKey } from './routing/rendezvous-hash.ts'

export interface CreateClusterOptions extends ClusterSettings {
  /** Read settings not given here from this environment (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** For tests: the clock and timers membership runs on. */
  readonly timers?: MembershipTimers
  readonly routeDeadlineMs?: number
  /** Where membership reports what it survives (a failed DNS resolution, a failed probe round); default a warning on the server's log. */
  readonly onError?: (error: unknown, context: string) => void
}

/**
 * Shards aggregates across the replicas of a service: pass it as createServer's `cluster` option. Peers come
 * from ANNALS_PEERS or ANNALS_PEERS_DNS (or the options); each aggregate is owned by one replica, chosen by
 * rendezvous hashing over the live members, which keeps it hot in memory and runs its commands in order.
 *
 * @example
 * const server = await createServer({ aggregates: [Battery], cluster: createCluster() })
 */
export function createCluster(options: CreateClusterOptions = {}): ClusterOption {
  return {
    // Async, so a bad environment rejects the promise createServer awaits rather than throwing past it.
    create: async (context) =>
      startCluster(context, { ...clusterSettingsFromEnv(options.env ?? process.env), ...options }),
  }
}

/** How long the ring waits for a peer's count of hosted aggregates. */
const RING_TIMEOUT_MS = 1000

async function startCluster(context: ClusterContext, options: CreateClusterOptions): Promise<Cluster> {
  if (options.production === true && options.secret === undefined) {
    throw new AnnalsError(
      'BAD_CONFIG',
      'ANNALS_CLUSTER_SECRET is required in production: the internal channel runs commands',
    )
  }
  const self = normalizeUrl(options.selfUrl ?? context.selfUrl)
  const discover = createPeerDiscovery({ self, ...options })
  const client = createPeerClient({ secret: options.secret })
  const announce = (state: ProbeAnswer) => ({ from: self, state })
  const membership = createMembership({
    self,
    discover,
    probe: async (url, signal) => {
      const reply = await client.post(
        url,
        `${INTERNAL_PREFIX}/probe`,
        announce(membership.isLeaving() ? 'leaving' : 'alive'),
        {
          timeoutMs: options.probeTimeoutMs ?? 1000,
          signal,
        },
      )
      const state = (reply.body as { state?: unknown } | undefined)?.state
      if (reply.status !== 200 || (state !== 'alive' && state !== 'leaving')) {
        throw new Error(`probe answered ${reply.status}`)
      }
      return state
    },
    announceLeave: async (url, signal) => {
      await client.post(url, `${INTERNAL_PREFIX}/leave`, { from: self }, { timeoutMs: 1000, signal })
    },
    ...(options.probeIntervalMs === undefined ? {} : { probeIntervalMs: options.probeIntervalMs }),
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
    ...(options.probeMisses === undefined ? {} : { missesBeforeDown: options.probeMisses }),
    discoverIntervalMs: options.peersDns === undefined ? 0 : (options.discoverIntervalMs ?? 5000),
    acceptUnlisted: options.peersDns !== undefined,
    ...(options.timers === undefined ? {} : { timers: options.timers }),
    onError:
      options.onError ??
      ((error, what) => context.http.log.warn({ err: error }, `annals cluster: ${what} failed`)),
  })
  const { local } = context
  const { host } = local
  const router = createCommandRouter({
    self,
    membership,
    local,
    client,
    ...(options.forwardTimeoutMs === undefined ? {} : { forwardTimeoutMs: options.forwardTimeoutMs }),
    ...(options.routeDeadlineMs === undefined ? {} : { routeDeadlineMs: options.routeDeadlineMs }),
  })
  const status = (): ClusterStatus => {
    const counts = router.counts()
    const written = host.written()
    return {
      self,
      members: membership.members(),
      hostedAggregates: host.hosted(),
      localCommands: counts.local,
      forwardedCommands: counts.forwarded,
      appends: written.appends,
      appendedCommands: written.commands,
      conflicts: written.conflicts,
    }
  }
  registerInternalRoutes(context.http, {
    secret: options.secret,
    membership,
    execute: (command) => router.executeForwarded(command),
    status: () => ({ ...status(), ...router.counts() }),
  })
  // The old owner drops what it no longer owns, so a later move back reloads rather than trusting a stale copy.
  membership.onChange(() => host.drop((aggregate, id) => !router.owns(aggregateKey(aggregate, id))))
  await membership.start()

  let closed = false
  return {
    commands: router,
    ownsPartition: (reactor, partition) => router.owns(`reactor\u0000${reactor}\u0000${partition}`),
    onChange: (listener) => membership.onChange(listener),
    status,
    async ring() {
      const hostedOf = async (url: string): Promise<number | undefined> => {
        try {
          const reply = await client.get(url, `${INTERNAL_PREFIX}/ring`, { timeoutMs: RING_TIMEOUT_MS })
          const hosted = (reply.body as { hostedAggregates?: unknown } | undefined)?.hostedAggregates
          return reply.status === 200 && typeof hosted === 'number' ? hosted : undefined
        } catch {
          return undefined
        }
      }
      return Promise.all(
        membership.members().map(async (member): Promise<RingMember> => ({
          ...member,
          hostedAggregates: member.self
            ? host.hosted()
            : member.state === 'down'
              ? undefined
              : await hostedOf(member.url),
        })),
      )
    },
    postToMember(url, path, body, timeoutMs) {
      // Only a member gets the secret: the URL may come from elsewhere (the read models' leases).
      const member = membership.members().find((m) => m.url === normalizeUrl(url))
      if (!member || member.self || member.state === 'down') {
        return Promise.reject(new AnnalsError('NOT_FOUND', `${url} is not another live member of the ring`))
      }
      return client.post(member.url, path, body, { timeoutMs })
    },
    secured: options.secret !== undefined,
    carriesSecret: (authorization) =>
      options.secret !== undefined && carriesSecret(authorization, options.secret),
    async leave() {
      await membership.leave()
      await host.drain()
    },
    async close() {
      if (closed) return
      closed = true
      membership.close()
      router.close()
      await host.drain()
      client.close()
    },
  }
}
