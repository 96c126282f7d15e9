import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { EventToAppend, RecordedEvent, SubscriptionMessage } from './event-store.ts'
import { createInMemoryEventStore } from './in-memory-event-store.ts'

const event = (type = 'Happened', data: unknown = { n: 1 }): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
})
const events = (count: number) => Array.from({ length: count }, (_, n) => event('Happened', { n }))

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

async function take(
  iterable: AsyncIterable<SubscriptionMessage>,
  until: (m: SubscriptionMessage) => boolean,
) {
  const seen: SubscriptionMessage[] = []
  for await (const message of iterable) {
    seen.push(message)
    if (until(message)) break
  }
  return seen
}

describe('createInMemoryEventStore', () => {
  it('numbers positions like byte offsets: strictly increasing, not contiguous, none at zero', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream('a-1', events(3))
    const all = await collect(store.readAll())
    expect(all[0]!.position).toBeGreaterThan(0n)
    expect(all[1]!.position - all[0]!.position).toBeGreaterThan(1n)
    expect(all[2]!.position).toBeGreaterThan(all[1]!.position)
    expect(await store.headPosition()).toBe(all[2]!.position)
  })

  it('replies to an append with the revision and position the last event reads back with', async () => {
    const store = createInMemoryEventStore()
    const result = await store.appendToStream('a-1', events(2), { expectedRevision: 'no_stream' })
    const [last] = await collect(store.readStream('a-1', { direction: 'backwards', maxCount: 1 }))
    expect(result).toMatchObject({ nextRevision: 1n, position: last!.position })
  })

  it('replies to an append with the position each event reads back with, in order', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream('b-1', events(1))
    const result = await store.appendToStream('a-1', events(3), { expectedRevision: 'no_stream' })
    const stored = await collect(store.readStream('a-1'))
    expect(result.positions).toEqual(stored.map((event) => event.position))
  })

  it('replies to a repeated append with the positions the events were first written at', async () => {
    const store = createInMemoryEventStore()
    const batch = events(2)
    const first = await store.appendToStream('a-1', batch, { expectedRevision: 'no_stream' })
    await store.appendToStream('a-1', events(1), { expectedRevision: 1n })
    const repeated = await store.appendToStream('a-1', batch, { expectedRevision: 'no_stream' })
    expect(repeated.positions).toEqual(first.positions)
  })

  it('returns the original result when an exact-revision append is repeated', async () => {
    const store = createInMemoryEventStore()
    const batch = events(2)
    const first = await store.appendToStream('a-1', batch, { expectedRevision: 'no_stream' })
    await store.appendToStream('a-1', events(1), { expectedRevision: 1n })
    expect(await store.appendToStream('a-1', batch, { expectedRevision: 'no_stream' })).toEqual(first)
    expect(await collect(store.readStream('a-1'))).toHaveLength(3)
  })

  it('refuses a repeated append with `any` when only its first id was written', async () => {
    const store = createInMemoryEventStore()
    const [known] = events(1)
    await store.appendToStream('a-1', [known!])
    await expect(store.appendToStream('a-1', [known!, event()])).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
    })
  })

  it('stores data as JSON, so later changes to the appended object do not leak in', async () => {
    const store = createInMemoryEventStore()
    const data = { at: new Date(0), list: [1] }
    await store.appendToStream('a-1', [event('Happened', data)])
    data.list.push(2)
    const [stored] = await collect(store.readStream('a-1'))
    expect(stored!.data).toEqual({ at: '1970-01-01T00:00:00.000Z', list: [1] })
  })

  it('hides events beyond $maxCount and older than $maxAge from stream reads but keeps them in $all', async () => {
    let clock = 0
    const store = createInMemoryEventStore({ now: () => new Date(clock) })
    await store.appendToStream('a-1', events(3))
    clock = 10_000
    await store.appendToStream('a-1', events(2))
    await store.setStreamMetadata('a-1', { $maxAge: 5 })
    expect((await collect(store.readStream('a-1'))).map((e) => e.revision)).toEqual([3n, 4n])
    await store.setStreamMetadata('a-1', { $maxCount: 1 })
    expect((await collect(store.readStream('a-1'))).map((e) => e.revision)).toEqual([4n])
    expect(await store.getStreamMetadata('a-1')).toEqual({ $maxCount: 1 })
    expect(await collect(store.readAll())).toHaveLength(5)
  })

  it('shows $metadata events in $all only when system events are asked for', async () => {
    const store = createInMemoryEventStore()
    await store.setStreamMetadata('a-1', { $maxCount: 1 })
    expect(await collect(store.readAll())).toEqual([])
    const system = await collect(store.readAll({ excludeSystemEvents: false }))
    expect(system.map((e) => [e.streamName, e.type])).toEqual([['$$a-1', '$metadata']])
  })

  it('sends a checkpoint every 32 events considered, then one and caughtUp on going live', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream('a-1', events(40))
    const controller = new AbortController()
    const messages = await take(
      store.subscribeToAll({ eventTypes: ['Other'], signal: controller.signal }),
      (m) => m.kind === 'caughtUp',
    )
    const all = await collect(store.readAll())
    expect(messages).toEqual([
      { kind: 'checkpoint', position: all[31]!.position },
      { kind: 'checkpoint', position: all[39]!.position },
      { kind: 'caughtUp' },
    ])
  })

  it('delivers live events after caughtUp and ends when the signal aborts', async () => {
    const store = createInMemoryEventStore()
    const controller = new AbortController()
    const received: RecordedEvent[] = []
    const done = (async () => {
      for await (const message of store.subscribeToAll({ signal: controller.signal })) {
        if (message.kind === 'caughtUp') await store.appendToStream('a-1', events(1))
        if (message.kind === 'event') {
          received.push(message.event)
          controller.abort()
        }
      }
    })()
    await done
    expect(received.map((e) => e.streamName)).toEqual(['a-1'])
  })

  it('ends open subscriptions with STORE_UNAVAILABLE when they are dropped', async () => {
    const store = createInMemoryEventStore()
    const iterator = store.subscribeToAll()[Symbol.asyncIterator]()
    expect(await iterator.next()).toEqual({ done: false, value: { kind: 'caughtUp' } })
    const next = iterator.next()
    store.dropSubscriptions()
    await expect(next).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })

  it('refuses event ids that are not UUIDs, as EventStoreDB clients do', async () => {
    const store = createInMemoryEventStore()
    await expect(store.appendToStream('a-1', [{ id: 'x', type: 'T', data: {} }])).rejects.toMatchObject({
      code: 'BAD_INPUT',
    })
  })
})
