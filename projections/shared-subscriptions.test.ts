import { randomUUID } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import type { EventStore, SubscriptionMessage } from '../framework/index.ts'
import { shareSubscriptions } from './shared-subscriptions.ts'

/** The in-memory store, counting the subscriptions opened on it and those still open. */
function countedStore() {
  const store = createInMemoryEventStore()
  // pulled: the events the store's subscriptions yielded.
  const counts = { opened: 0, open: 0, pulled: 0 }
  const counted: EventStore = {
    ...store,
    subscribeToAll: (options) => {
      counts.opened++
      counts.open++
      const inner = store.subscribeToAll(options)
      return (async function* () {
        try {
          for await (const message of inner) {
            if (message.kind === 'event') counts.pulled++
            yield message
          }
        } finally {
          counts.open--
        }
      })()
    },
  }
  return { store: counted, counts }
}

const append = (store: EventStore, type: string, count = 1) =>
  store.appendToStream(
    `s-${randomUUID()}`,
    Array.from({ length: count }, (_, index) => ({ id: randomUUID(), type, data: { index } })),
  )

/** Reads a subscription into a list, until `until` says it has what it waits for, then stops it. */
function reader(subscription: AsyncIterable<SubscriptionMessage>, controller: AbortController) {
  const events: bigint[] = []
  const messages: SubscriptionMessage['kind'][] = []
  let failure: unknown
  const done = (async () => {
    try {
      for await (const message of subscription) {
        messages.push(message.kind)
        if (message.kind === 'event') events.push(message.event.position)
      }
    } catch (error) {
      failure = error
    }
  })()
  return {
    events,
    messages,
    failure: () => failure,
    done,
    stop: async () => {
      controller.abort()
      await done
    },
  }
}

function until(condition: () => boolean): Promise<void> {
  return vi.waitFor(
    () => {
      if (!condition()) throw new Error('not yet')
    },
    { timeout: 2_000, interval: 5 },
  )
}

async function positionsOf(store: EventStore, type: string): Promise<bigint[]> {
  const positions: bigint[] = []
  for await (const event of store.readAll({ eventTypes: [type] })) positions.push(event.position)
  return positions
}

describe('shared subscriptions', () => {
  it('gives consumers of the same event types every event, in order, from one subscription to the store', async () => {
    const { store, counts } = countedStore()
    const shared = shareSubscriptions(store)
    await append(store, 'A', 3)
    await append(store, 'B', 2)
    const controllers = [new AbortController(), new AbortController(), new AbortController()]
    const [first, second, other] = controllers.map((controller, index) =>
      reader(
        shared.subscribeToAll({ eventTypes: index < 2 ? ['A'] : ['B'], signal: controller.signal }),
        controller,
      ),
    )
    await append(store, 'A', 2)
    await append(store, 'B')
    const expectedA = await positionsOf(store, 'A')
    const expectedB = await positionsOf(store, 'B')
    await until(() => first!.events.length === 5 && second!.events.length === 5 && other!.events.length === 3)
    expect(first!.events).toEqual(expectedA)
    expect(second!.events).toEqual(expectedA)
    expect(other!.events).toEqual(expectedB)
    // One for A, one for B: the second consumer of A shares the first's.
    expect(counts.opened).toBe(2)
    expect(first!.messages).toContain('caughtUp')
    expect(second!.messages.filter((kind) => kind === 'caughtUp')).toHaveLength(1)
    await Promise.all([first!.stop(), second!.stop(), other!.stop()])
    // The last consumer to leave ends the store's subscription.
    await until(() => counts.open === 0)
  })

  it('gives a consumer that joins behind the shared subscription what it missed, from its recent messages', async () => {
    const { store, counts } = countedStore()
    const shared = shareSubscriptions(store)
    const ahead = new AbortController()
    const leader = reader(shared.subscribeToAll({ eventTypes: ['A'], signal: ahead.signal }), ahead)
    await append(store, 'A', 5)
    await until(() => leader.events.length === 5)
    const from = leader.events[1]!
    const behind = new AbortController()
    const late = reader(
      shared.subscribeToAll({ eventTypes: ['A'], fromPosition: from, signal: behind.signal }),
      behind,
    )
    await append(store, 'A')
    const all = await positionsOf(store, 'A')
    await until(() => late.events.length === 4)
    expect(late.events).toEqual(all.slice(2))
    expect(late.messages.at(3)).toBe('caughtUp')
    expect(counts.opened).toBe(1)
    await Promise.all([leader.stop(), late.stop()])
  })

  it('lets a consumer further behind than its recent messages catch up on its own subscription, then join', async () => {
    const { store, counts } = countedStore()
    const shared = shareSubscriptions(store, { recentMessages: 4 })
    const ahead = new AbortController()
    const leader = reader(shared.subscribeToAll({ eventTypes: ['A'], signal: ahead.signal }), ahead)
    await append(store, 'A', 20)
    await until(() => leader.events.length === 20)
    const behind = new AbortController()
    const late = reader(shared.subscribeToAll({ eventTypes: ['A'], signal: behind.signal }), behind)
    await until(() => late.events.length === 20)
    // Its own subscription ended once it reached the shared one's recent messages: only the shared one is open.
    await until(() => counts.open === 1)
    expect(counts.opened).toBe(2)
    await append(store, 'A', 3)
    const all = await positionsOf(store, 'A')
    await until(() => late.events.length === 23 && leader.events.length === 23)
    expect(late.events).toEqual(all)
    expect(leader.events).toEqual(all)
    expect(counts.open).toBe(1)
    await Promise.all([leader.stop(), late.stop()])
  })

  it('reads at the pace of a slow consumer catching up, and never drops it for being slow', async () => {
    const { store, counts } = countedStore()
    const shared = shareSubscriptions(store, { highWater: 256, stallMs: 1_000 })
    for (let batch = 0; batch < 20; batch++) await append(store, 'A', 1_000)
    const all = await positionsOf(store, 'A')
    const controller = new AbortController()
    const events: bigint[] = []
    let mostAhead = 0
    for await (const message of shared.subscribeToAll({ eventTypes: ['A'], signal: controller.signal })) {
      if (message.kind !== 'event') continue
      events.push(message.event.position)
      // The events the shared subscription took from the store and this consumer has not read yet.
      mostAhead = Math.max(mostAhead, counts.pulled - events.length)
      // Slower than the store: a turn of the event loop every hundred events.
      if (events.length % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
      if (events.length === all.length) break
    }
    expect(events).toEqual(all)
    expect(counts.opened).toBe(1)
    expect(mostAhead).toBeLessThanOrEqual(256)
  })

  it('gives a consumer that starts ahead of the shared subscription nothing it already has', async () => {
    const { store } = countedStore()
    const shared = shareSubscriptions(store)
    await append(store, 'A', 5)
    const all = await positionsOf(store, 'A')
    const controllers = [new AbortController(), new AbortController()]
    // In one turn: the first starts the shared subscription at the start, the second joins it from the third event.
    const first = reader(
      shared.subscribeToAll({ eventTypes: ['A'], signal: controllers[0]!.signal }),
      controllers[0]!,
    )
    const ahead = reader(
      shared.subscribeToAll({ eventTypes: ['A'], fromPosition: all[2]!, signal: controllers[1]!.signal }),
      controllers[1]!,
    )
    await until(() => first.events.length === 5 && ahead.messages.includes('caughtUp'))
    expect(ahead.events).toEqual(all.slice(3))
    await Promise.all([first.stop(), ahead.stop()])
  })

  it('keeps serving the other consumers when one leaves, and passes on every caughtUp of the store', async () => {
    const { store, counts } = countedStore()
    // The store says caughtUp again after every event of type Again, as one does after falling behind.
    const repeating: EventStore = Object.assign(Object.create(store) as EventStore, {
      subscribeToAll: (options: Parameters<EventStore['subscribeToAll']>[0]) =>
        (async function* () {
          for await (const message of store.subscribeToAll(options)) {
            yield message
            if (message.kind === 'event' && message.event.type === 'Again')
              yield { kind: 'caughtUp' as const }
          }
        })(),
    })
    const shared = shareSubscriptions(repeating)
    const controllers = [new AbortController(), new AbortController()]
    const [leaving, staying] = controllers.map((controller) =>
      reader(shared.subscribeToAll({ eventTypes: ['A', 'Again'], signal: controller.signal }), controller),
    )
    await append(store, 'A')
    await until(() => leaving!.events.length === 1 && staying!.events.length === 1)
    await leaving!.stop()
    await append(store, 'Again')
    await append(store, 'A')
    await until(() => staying!.events.length === 3)
    expect(staying!.messages.filter((kind) => kind === 'caughtUp')).toHaveLength(2)
    expect(counts.opened).toBe(1)
    expect(counts.open).toBe(1)
    await staying!.stop()
    await until(() => counts.open === 0)
  })

  it('drops a consumer that holds the shared subscription back and reads nothing, and keeps serving the others', async () => {
    const { store, counts } = countedStore()
    const shared = shareSubscriptions(store, { highWater: 8, stallMs: 100 })
    const reading = new AbortController()
    const live = reader(shared.subscribeToAll({ eventTypes: ['A'], signal: reading.signal }), reading)
    // A consumer that asks for one message and never for the next.
    const stuck = shared.subscribeToAll({ eventTypes: ['A'] })[Symbol.asyncIterator]()
    await stuck.next()
    await append(store, 'A', 30)
    await until(() => live.events.length === 30)
    await expect(stuck.next()).rejects.toThrow(/read nothing/)
    await live.stop()
    await until(() => counts.open === 0)
  })

  it('ends the store subscription when its only consumer is dropped', async () => {
    const { store, counts } = countedStore()
    const shared = shareSubscriptions(store, { highWater: 8, stallMs: 100 })
    const stuck = shared.subscribeToAll({ eventTypes: ['A'] })[Symbol.asyncIterator]()
    await stuck.next()
    await append(store, 'A', 30)
    // The consumer never asks again: nothing of it runs to leave, the drop alone must end the subscription.
    await until(() => counts.open === 0)
    await expect(stuck.next()).rejects.toThrow(/read nothing/)
  })

  it('ends every consumer with the error of the subscription they share', async () => {
    const store = createInMemoryEventStore()
    let fail: (error: Error) => void = () => undefined
    const failing: EventStore = {
      ...store,
      subscribeToAll: (options) =>
        (async function* () {
          const failure = new Promise<never>((_, reject) => (fail = reject))
          const inner = store.subscribeToAll(options)[Symbol.asyncIterator]()
          for (;;) {
            const next = await Promise.race([inner.next(), failure])
            if (next.done) return
            yield next.value
          }
        })(),
    }
    const shared = shareSubscriptions(failing)
    const controllers = [new AbortController(), new AbortController()]
    const readers = controllers.map((controller) =>
      reader(shared.subscribeToAll({ eventTypes: ['A'], signal: controller.signal }), controller),
    )
    await until(() => readers.every((each) => each.messages.includes('caughtUp')))
    fail(new Error('store gone'))
    await Promise.all(readers.map((each) => each.done))
    expect(readers.map((each) => String(each.failure()))).toEqual(['Error: store gone', 'Error: store gone'])
  })
})
