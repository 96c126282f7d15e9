import type { MemberStatus } from './cluster.ts'

/** What a peer answers to a probe: it serves, or it is shutting down and wants no more commands. */
export type ProbeAnswer = 'alive' | 'leaving'

export interface MembershipTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  now(): number
}

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

interface Peer {
  state: MemberStatus['state']
  misses: number
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
  const self = options.self
  const interval = options.probeIntervalMs ?? 1000
  const timeout = options.probeTimeoutMs ?? interval
  const missesBeforeDown = options.missesBeforeDown ?? 3
  const discoverInterval = options.discoverIntervalMs ?? 0
  const timers = options.timers ?? systemTimers
  const onError = options.onError ?? (() => {})
  const peers = new Map<string, Peer>()
  const listeners = new Set<() => void>()
  let leaving = false
  let closed = false
  let probeTimer: unknown
  let discoverTimer: unknown
  let lastRing: string | undefined
  const inFlight = new Set<AbortController>()

  // The ring is read on every command and changes rarely: computed on change, handed out as is.
  let currentRing: readonly string[] = []
  const computeRing = (): string[] => {
    const live = [...peers].filter(([, p]) => p.state === 'alive' || p.state === 'suspect').map(([u]) => u)
    if (!leaving) live.push(self)
    return live.sort()
  }
  const ring = () => currentRing
  const changed = () => {
    const next = computeRing()
    const signature = next.join(' ')
    if (signature === lastRing) return
    lastRing = signature
    currentRing = next
    for (const listener of listeners) {
      try {
        listener()
      } catch (error) {
        onError(error, 'membership change listener')
      }
    }
  }
  /** Returns the peers that are new to this replica. */
  const setPeers = (urls: readonly string[]): string[] => {
    const listed = new Set(urls.filter((u) => u !== self))
    const added: string[] = []
    for (const url of peers.keys()) if (!listed.has(url)) peers.delete(url)
    for (const url of listed) {
      if (peers.has(url)) continue
      peers.set(url, { state: 'down', misses: missesBeforeDown })
      added.push(url)
    }
    changed()
    return added
  }
  const discover = async (): Promise<string[]> => {
    let urls: readonly string[]
    try {
      urls = await options.discover()
    } catch (error) {
      onError(error, 'peer discovery')
      return []
    }
    return closed ? [] : setPeers(urls)
  }
  const probeOne = async (url: string, signal: AbortSignal) => {
    let answer: ProbeAnswer | undefined
    try {
      answer = await withTimeout(options.probe(url, signal), signal)
    } catch {
      answer = undefined
    }
    const peer = peers.get(url)
    if (peer === undefined || closed) return
    if (answer === undefined) {
      peer.misses++
      peer.state = peer.state === 'leaving' || peer.misses >= missesBeforeDown ? 'down' : 'suspect'
      if (peer.state === 'down') peer.misses = Math.max(peer.misses, missesBeforeDown)
    } else {
      peer.misses = 0
      peer.state = answer
    }
  }
  const probeRound = () => probeSome([...peers.keys()])
  const probeSome = async (urls: readonly string[]) => {
    const controller = new AbortController()
    inFlight.add(controller)
    const timer = timers.setTimeout(() => controller.abort(), timeout)
    try {
      await Promise.all(urls.map((url) => probeOne(url, controller.signal)))
    } finally {
      timers.clearTimeout(timer)
      inFlight.delete(controller)
    }
    changed()
  }
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
    ring,
    members() {
      const list: MemberStatus[] = [...peers].map(([url, p]) => ({
        id: url,
        url,
        state: p.state,
        self: false,
      }))
      list.push({ id: self, url: self, state: leaving ? 'leaving' : 'alive', self: true })
      return list.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0))
    },
    isLeaving: () => leaving,
    heardFrom(url, answer) {
      if (url === self) return
      let peer = peers.get(url)
      if (peer === undefined) {
        if (!options.acceptUnlisted) return
        peer = { state: 'down', misses: 0 }
        peers.set(url, peer)
      }
      peer.misses = 0
      peer.state = answer
      changed()
    },
    reportUnreachable(url) {
      const peer = peers.get(url)
      if (peer === undefined || peer.state === 'down') return
      peer.state = 'down'
      peer.misses = missesBeforeDown
      changed()
    },
    probeRound,
    rediscover,
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async leave() {
      if (leaving) return
      leaving = true
      changed()
      const controller = new AbortController()
      const timer = timers.setTimeout(() => controller.abort(), timeout)
      const targets = [...peers].filter(([, p]) => p.state !== 'down').map(([u]) => u)
      await Promise.allSettled(
        targets.map((url) => withTimeout(options.announceLeave(url, controller.signal), controller.signal)),
      )
      timers.clearTimeout(timer)
    },
    close() {
      closed = true
      timers.clearTimeout(probeTimer)
      timers.clearTimeout(discoverTimer)
      for (const controller of inFlight) controller.abort()
      listeners.clear()
    },
  }
}

function withTimeout<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('probe timed out'))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('probe timed out'))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}
