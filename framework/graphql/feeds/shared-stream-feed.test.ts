import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createInMemoryEventStore, type InMemoryEventStore } from '../../event-store/in-memory-event-store.ts'
import type { RecordedEvent } from '../../event-store/event-store.ts'
import { createSharedStreamFeed, type SharedStreamFeed } from './shared-stream-feed.ts'
import type { StreamFeedMember } from './stream-feed-member.ts'

const aborts: AbortController[] = []
afterEach(() => {
  for (const abort of aborts.splice(0)) abort.abort()
})

function feedOver(store: InMemoryEventStore, options: { maxRetries?: number } = {}) {
  let built = 0
  const feed = createSharedStreamFeed({
    store,
    eventTypes: ['Filled'],
    toFrame: (event: RecordedEvent) => ({ built: ++built, stream: event.streamName, data: event.data }),
    retryDelayMs: 1,
    ...options,
  })
  return { feed, builtFrames: () => built }
}

async function join<T>(feed: SharedStreamFeed<T>, streamName: string, maxPending = 100) {
  const abort = new AbortController()
  aborts.push(abort)
  return {
    member: await feed.join(streamName, { signal: abort.signal, maxPending }),
    leave: () => abort.abort(),
  }
}

async function fill(store: InMemoryEventStore, streamName: string, count: number): Promise<bigint> {
  const events = Array.from({ length: count }, (_, index) => ({
    id: randomUUID(),
    type: 'Filled',
    data: index,
  }))
  return (await store.appendToStream(streamName, events)).position
}

async function take<T>(member: StreamFeedMember<T>, count: number, after = -1n) {
  const taken: T[] = []
  for await (const { frame } of member.frames(after)) if (taken.push(frame) === count) break
  return taken
}

describe('createSharedStreamFeed', () => {
  it("delivers each member its stream's events in order, building each frame once for all", async () => {
    const store = createInMemoryEventStore()
    const { feed, builtFrames } = feedOver(store)
    const [a1, a2, b] = await Promise.all([join(feed, 'a'), join(feed, 'a'), join(feed, 'b')])
    for (const { member } of [a1, a2, b]) expect(member.goLive()).toBe(true)
    await fill(store, 'a', 2)
    await fill(store, 'b', 1)
    const [fromA1, fromA2, fromB] = await Promise.all([
      take(a1.member, 2),
      take(a2.member, 2),
      take(b.member, 1),
    ])
    expect(fromA1.map((frame) => frame.data)).toEqual([0, 1])
    expect(fromA2).toEqual(fromA1)
    expect(fromB).toMatchObject([{ stream: 'b', data: 0 }])
    expect(builtFrames()).toBe(3)
  })

  it('has one store subscription while members are there and none once the last has left', async () => {
    const store = createInMemoryEventStore()
    const { feed } = feedOver(store)
    const first = await join(feed, 'a')
    const second = await join(feed, 'b')
    expect(feed.openSubscriptions()).toBe(1)
    first.leave()
    expect(feed.openSubscriptions()).toBe(1)
    second.leave()
    // Leaving aborts the subscription at once; its iteration ends within a few turns of the event loop.
    for (let turn = 0; turn < 100 && feed.openSubscriptions() > 0; turn++)
      await new Promise((resolve) => setImmediate(resolve))
    expect(feed.openSubscriptions()).toBe(0)
    const third = await join(feed, 'a')
    third.member.goLive()
    await fill(store, 'a', 1)
    expect(await take(third.member, 1)).toHaveLength(1)
    expect(feed.openSubscriptions()).toBe(1)
  })

  it('asks a member whose pending events overflowed during its read to read again, then takes it live', async () => {
    const store = createInMemoryEventStore()
    const { feed } = feedOver(store)
    const probe = await join(feed, 'a')
    probe.member.goLive()
    const reader = await join(feed, 'a', 2)
    await fill(store, 'a', 3)
    await take(probe.member, 3)
    expect(reader.member.goLive()).toBe(false)
    expect(reader.member.goLive()).toBe(true)
    const last = await fill(store, 'a', 1)
    await take(probe.member, 1)
    const [frame] = await take(reader.member, 1, last - 1n)
    expect(frame?.data).toBe(0)
  })

  it('resubscribes after the store drops it, from the last delivered position', async () => {
    const store = createInMemoryEventStore()
    const { feed } = feedOver(store)
    const { member } = await join(feed, 'a')
    member.goLive()
    await fill(store, 'a', 2)
    const before = await take(member, 2)
    store.dropSubscriptions()
    await fill(store, 'a', 2)
    const after = await take(member, 2)
    expect([...before, ...after].map((frame) => frame.built)).toEqual([1, 2, 3, 4])
  })

  it('fails its members with the store error once resubscribing keeps failing', async () => {
    const store = createInMemoryEventStore()
    const { feed } = feedOver(store, { maxRetries: 2 })
    const { member } = await join(feed, 'a')
    member.goLive()
    await store.close()
    store.dropSubscriptions()
    await expect(take(member, 1)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })
})
