import type { MemberStatus } from '../cluster.ts'
import type { ProbeAnswer } from './probe.ts'

export interface MembershipViewOptions {
  readonly self: string
  /** Consecutive missed probes after which a peer leaves the ring. */
  readonly missesBeforeDown: number
  /** Whether a probe from a peer not listed yet adds it. */
  readonly acceptUnlisted: boolean
  readonly onError: (error: unknown, context: string) => void
}

export interface MembershipView {
  /** The members that own aggregates now, sorted; the same array until it changes. */
  ring(): readonly string[]
  members(): readonly MemberStatus[]
  /** The peers known now, whatever their state. */
  peerUrls(): string[]
  /** The peers not down, which may still route commands here. */
  reachablePeers(): string[]
  /** Replaces the peers with those listed; returns the ones new to this replica. */
  setPeers(urls: readonly string[]): string[]
  /** Records a probe's answer, or a miss (`undefined`); the ring follows at the next `changed()`. */
  recordProbe(url: string, answer: ProbeAnswer | undefined): void
  heardFrom(url: string, answer: ProbeAnswer): void
  reportUnreachable(url: string): void
  isLeaving(): boolean
  markLeaving(): void
  /** Recomputes the ring and tells the listeners if it changed. */
  changed(): void
  onChange(listener: () => void): () => void
  close(): void
}

interface Peer {
  state: MemberStatus['state']
  misses: number
}

/**
 * Creates one replica's view of the cluster: the peers it knows and their states, and the ring they make.
 * A peer that misses `missesBeforeDown` probes in a row is down and leaves the ring until it answers again.
 */
export function createMembershipView(options: MembershipViewOptions): MembershipView {
  const { self, missesBeforeDown, onError } = options
  const peers = new Map<string, Peer>()
  const listeners = new Set<() => void>()
  let leaving = false
  let lastRing: string | undefined
  // The ring is read on every command and changes rarely: computed on change, handed out as is.
  let currentRing: readonly string[] = []

  const computeRing = (): string[] => {
    const live = [...peers].filter(([, p]) => p.state === 'alive' || p.state === 'suspect').map(([u]) => u)
    if (!leaving) live.push(self)
    return live.sort()
  }
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

  return {
    ring: () => currentRing,
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
    peerUrls: () => [...peers.keys()],
    reachablePeers: () => [...peers].filter(([, p]) => p.state !== 'down').map(([u]) => u),
    setPeers(urls) {
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
    },
    recordProbe(url, answer) {
      const peer = peers.get(url)
      if (peer === undefined) return
      if (answer === undefined) {
        peer.misses++
        peer.state = peer.state === 'leaving' || peer.misses >= missesBeforeDown ? 'down' : 'suspect'
        if (peer.state === 'down') peer.misses = Math.max(peer.misses, missesBeforeDown)
      } else {
        peer.misses = 0
        peer.state = answer
      }
    },
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
    isLeaving: () => leaving,
    markLeaving() {
      leaving = true
      changed()
    },
    changed,
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: () => listeners.clear(),
  }
}
