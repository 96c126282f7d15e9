import type { MemberStatus } from '../cluster.ts'
import { createMembershipView } from './membership-view.ts'
import { createPeerProber } from './peer-prober.ts'
import type { MembershipTimers, ProbeAnswer } from './probe.ts'

export interface MembershipOptions {
  /** This replica's internal URL, as peers list it. */
  readonly self: string
  /** The peers' internal URLs (self may be among them); called at start and every `discoverIntervalMs`. */
  readonly discover: () => Promise<readonly string[]>
  /** Asks a peer whether it serves; rejects or outlasts the signal when it does not. */
  readonly probe: (url: string, signal: AbortSignal) => Promise<ProbeAnswer>
  /** Tells a peer this replica is leaving; failures are ignored (the peer's probes find out anyway). */
  readonly announceLeave: (url: string, signal: AbortSignal) => Promise<void>
  readonly probeIntervalMs?: number
  readonly probeTimeoutMs?: number
  /** Consecutive missed probes after which a peer leaves the ring. */
  readonly missesBeforeDown?: number
  /** 0 disables rediscovery (a static list). */
  readonly discoverIntervalMs?: number
  /** Whether a probe from a peer the discovery has not listed yet adds it (DNS lags behind new pods). */
  readonly acceptUnlisted?: boolean
  readonly timers?: MembershipTimers
  readonly onError?: (error: unknown, context: string) => void
}

export interface Membership {
  /** Discovers the peers and probes them once, so the first view is not empty of peers that serve. */
  start(): Promise<void>
  /** The members that own aggregates now: self unless leaving, and every peer not down or leaving. */
  ring(): readonly string[]
  members(): readonly MemberStatus[]
  isLeaving(): boolean
  /** A probe from a peer is evidence it serves (or is leaving). */
  heardFrom(url: string, answer: ProbeAnswer): void
  /** A request to the peer failed at the transport: it leaves the ring until a probe reaches it. */
  reportUnreachable(url: string): void
  /** One round of probes to every peer; the timer runs it every interval. */
  probeRound(): Promise<void>
  /**
   * Discovers the peers again and probes the new ones at once, so a peer that appears joins without waiting
   * for the next probe round; the timer runs it every `discoverIntervalMs`. A failed discovery keeps the
   * peers known so far and goes to `onError`.
   */
  rediscover(): Promise<void>
  onChange(listener: () => void): () => void
  /** Marks self leaving and tells every peer, so they stop routing here before this replica stops. */
  leave(): Promise<void>
  close(): void
}

const systemTimers: MembershipTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => Date.now(),
}

/**
 * Creates the membership of one replica: the peers it knows, probed on the internal channel; a peer that
 * misses `missesBeforeDown` probes in a row (a failure or a timeout each) is down and leaves the ring until
 * it answers again.
 */
export function createMembership(options: MembershipOptions): Membership {
  const interval = options.probeIntervalMs ?? 1000
  const discoverInterval = options.discoverIntervalMs ?? 0
  const timers = options.timers ?? systemTimers
  const onError = options.onError ?? (() => {})
  let closed = false
  let probeTimer: unknown
  let discoverTimer: unknown
  const view = createMembershipView({
    self: options.self,
    missesBeforeDown: options.missesBeforeDown ?? 3,
    acceptUnlisted: options.acceptUnlisted ?? false,
    onError,
  })
  const prober = createPeerProber({
    probe: options.probe,
    announceLeave: options.announceLeave,
    timeoutMs: options.probeTimeoutMs ?? interval,
    timers,
    onAnswer: (url, answer) => {
      if (!closed) view.recordProbe(url, answer)
    },
  })

  const discover = async (): Promise<string[]> => {
    let urls: readonly string[]
    try {
      urls = await options.discover()
    } catch (error) {
      onError(error, 'peer discovery')
      return []
    }
    return closed ? [] : view.setPeers(urls)
  }
  const probeSome = async (urls: readonly string[]) => {
    await prober.probe(urls)
    view.changed()
  }
  const probeRound = () => probeSome(view.peerUrls())
  const probeLoop = () => {
    if (closed) return
    const started = timers.now()
    probeRound()
      .catch((error: unknown) => onError(error, 'probe round'))
      .finally(() => {
        if (!closed)
          probeTimer = timers.setTimeout(probeLoop, Math.max(0, interval - (timers.now() - started)))
      })
  }
  const rediscover = async () => {
    const added = await discover()
    if (added.length > 0 && !closed) await probeSome(added)
  }
  const scheduleDiscovery = () => {
    if (closed || discoverInterval <= 0) return
    discoverTimer = timers.setTimeout(() => {
      rediscover()
        .catch((error: unknown) => onError(error, 'peer discovery'))
        .finally(scheduleDiscovery)
    }, discoverInterval)
  }

  return {
    async start() {
      await discover()
      await probeRound()
      probeTimer = timers.setTimeout(probeLoop, interval)
      scheduleDiscovery()
    },
    ring: () => view.ring(),
    members: () => view.members(),
    isLeaving: () => view.isLeaving(),
    heardFrom: (url, answer) => view.heardFrom(url, answer),
    reportUnreachable: (url) => view.reportUnreachable(url),
    probeRound,
    rediscover,
    onChange: (listener) => view.onChange(listener),
    async leave() {
      if (view.isLeaving()) return
      view.markLeaving()
      await prober.announceLeave(view.reachablePeers())
    },
    close() {
      closed = true
      timers.clearTimeout(probeTimer)
      timers.clearTimeout(discoverTimer)
      prober.close()
      view.close()
    },
  }
}
