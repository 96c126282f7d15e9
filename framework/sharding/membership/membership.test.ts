import { describe, expect, it } from 'vitest'
import { createMembership, type MembershipOptions } from './membership.ts'
import type { ProbeAnswer } from './probe.ts'

type Behaviour = ProbeAnswer | 'refuse' | 'hang'

const self = 'http://127.0.0.1:4001'
const peerB = 'http://127.0.0.1:4002'
const peerC = 'http://127.0.0.1:4003'

/** A fake network: each peer answers a probe as its behaviour says; 'hang' never answers. */
function network(initial: Record<string, Behaviour>) {
  const behaviour = new Map<string, Behaviour>(Object.entries(initial))
  const leaveNotices: string[] = []
  const probe = (url: string, signal: AbortSignal) =>
    new Promise<ProbeAnswer>((resolve, reject) => {
      const b = behaviour.get(url) ?? 'refuse'
      if (b === 'refuse') return reject(new Error('ECONNREFUSED'))
      if (b === 'hang') return signal.addEventListener('abort', () => reject(new Error('aborted')))
      resolve(b)
    })
  const announceLeave = (url: string) => {
    leaveNotices.push(url)
    return Promise.resolve()
  }
  return { behaviour, leaveNotices, probe, announceLeave }
}

function membershipOf(net: ReturnType<typeof network>, overrides: Partial<MembershipOptions> = {}) {
  return createMembership({
    self,
    discover: () => Promise.resolve([self, peerB, peerC]),
    probe: net.probe,
    announceLeave: net.announceLeave,
    probeIntervalMs: 60_000,
    probeTimeoutMs: 50,
    missesBeforeDown: 2,
    ...overrides,
  })
}

describe('createMembership', () => {
  it('starts with self and every peer that answers the first probe in the ring', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'refuse' })
    const membership = membershipOf(net)
    await membership.start()
    expect(membership.ring()).toEqual([self, peerB])
    expect(membership.members().find((m) => m.url === peerC)?.state).toBe('down')
    membership.close()
  })

  it('keeps a peer that missed fewer probes than the bound, as suspect', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    net.behaviour.set(peerC, 'refuse')
    await membership.probeRound()
    expect(membership.members().find((m) => m.url === peerC)?.state).toBe('suspect')
    expect(membership.ring()).toContain(peerC)
    membership.close()
  })

  it('takes a peer out of the ring after it misses the bound of probes, and back when it answers', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    net.behaviour.set(peerC, 'refuse')
    await membership.probeRound()
    await membership.probeRound()
    expect(membership.ring()).toEqual([self, peerB])
    net.behaviour.set(peerC, 'alive')
    await membership.probeRound()
    expect(membership.ring()).toEqual([self, peerB, peerC])
    membership.close()
  })

  it('counts a probe that outlasts the timeout as a miss', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    net.behaviour.set(peerB, 'hang')
    await membership.probeRound()
    await membership.probeRound()
    expect(membership.ring()).toEqual([self, peerC])
    membership.close()
  })

  it('drops a peer that answers leaving from the ring at once', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    net.behaviour.set(peerB, 'leaving')
    await membership.probeRound()
    expect(membership.ring()).toEqual([self, peerC])
    membership.close()
  })

  it('leaves the ring itself and tells every peer it reaches when it leaves', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'refuse' })
    const membership = membershipOf(net)
    await membership.start()
    await membership.leave()
    expect(membership.ring()).toEqual([peerB])
    expect(membership.isLeaving()).toBe(true)
    expect(net.leaveNotices).toEqual([peerB])
    membership.close()
  })

  it('takes a peer that announces leaving out of the ring, and a probe from it back in', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    membership.heardFrom(peerC, 'leaving')
    expect(membership.ring()).toEqual([self, peerB])
    membership.heardFrom(peerC, 'alive')
    expect(membership.ring()).toEqual([self, peerB, peerC])
    membership.close()
  })

  it('takes an unreachable peer out of the ring at once when a request to it fails', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    membership.reportUnreachable(peerB)
    expect(membership.ring()).toEqual([self, peerC])
    membership.close()
  })

  it('tells listeners when the ring changes, and only then', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net)
    await membership.start()
    let changes = 0
    membership.onChange(() => changes++)
    await membership.probeRound()
    expect(changes).toBe(0)
    membership.reportUnreachable(peerB)
    expect(changes).toBe(1)
    membership.close()
  })

  it('ignores probes from unlisted peers unless told to accept them', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const strict = membershipOf(net)
    await strict.start()
    strict.heardFrom('http://127.0.0.1:4009', 'alive')
    expect(strict.ring()).not.toContain('http://127.0.0.1:4009')
    const lenient = membershipOf(net, { acceptUnlisted: true })
    await lenient.start()
    lenient.heardFrom('http://127.0.0.1:4009', 'alive')
    expect(lenient.ring()).toContain('http://127.0.0.1:4009')
    strict.close()
    lenient.close()
  })

  it('follows rediscovery: a peer no longer listed leaves, a new one joins once it answers', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    let listed = [self, peerB]
    const membership = membershipOf(net, {
      discover: () => Promise.resolve(listed),
      discoverIntervalMs: 5,
      probeIntervalMs: 5,
    })
    await membership.start()
    expect(membership.ring()).toEqual([self, peerB])
    listed = [self, peerC]
    await new Promise<void>((resolve) =>
      membership.onChange(() => membership.ring().includes(peerC) && resolve()),
    )
    expect(membership.ring()).toEqual([self, peerC])
    membership.close()
  })

  it('probes on its own every interval and notices a peer going down', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const membership = membershipOf(net, { probeIntervalMs: 5, probeTimeoutMs: 20 })
    await membership.start()
    const gone = new Promise<void>((resolve) => membership.onChange(() => resolve()))
    net.behaviour.set(peerC, 'hang')
    await gone
    expect(membership.ring()).toEqual([self, peerB])
    membership.close()
  })

  it('probes a peer that rediscovery finds at once, so it joins before the next probe round', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    let listed = [self, peerB]
    const membership = membershipOf(net, { discover: () => Promise.resolve(listed) })
    await membership.start()
    listed = [self, peerB, peerC]
    await membership.rediscover()
    expect(membership.ring()).toEqual([self, peerB, peerC])
    membership.close()
  })

  it('keeps the peers it knows and reports the error when rediscovery fails', async () => {
    const net = network({ [peerB]: 'alive', [peerC]: 'alive' })
    const errors: string[] = []
    const dns = { failing: false }
    const membership = membershipOf(net, {
      discover: () =>
        dns.failing
          ? Promise.reject(new Error('DNS A annals.test: ESERVFAIL'))
          : Promise.resolve([self, peerB, peerC]),
      onError: (error, context) => errors.push(`${context}: ${(error as Error).message}`),
    })
    await membership.start()
    dns.failing = true
    await membership.rediscover()
    expect(membership.ring()).toEqual([self, peerB, peerC])
    expect(errors).toEqual(['peer discovery: DNS A annals.test: ESERVFAIL'])
    membership.close()
  })
})
