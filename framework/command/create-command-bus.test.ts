import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { counterAggregate } from '../aggregate/counter.fixture.ts'
import type { EventStore, RecordedEvent } from '../event-store/event-store.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { createCommandBus } from './create-command-bus.ts'
import { loadAggregate } from './load-aggregate.ts'

const Counter = counterAggregate()
const increment = (by: number, commandId?: string) => ({
  aggregate: 'Counter',
  command: 'increment',
  aggregateId: 'c-1',
  input: { by },
  ...(commandId ? { commandId } : {}),
})

async function streamOf(store: EventStore) {
  const events: RecordedEvent[] = []
  for await (const event of store.readStream(Counter.streamName('c-1'))) events.push(event)
  return events
}

/** A store on which another writer always gets in first, so every append of the bus conflicts. */
function contendedStore(store: EventStore): EventStore {
  return {
    ...store,
    appendToStream: async (name, events, options) => {
      await store.appendToStream(name, [{ id: randomUUID(), type: 'Noted', data: { text: 'rival' } }])
      return store.appendToStream(name, events, options)
    },
  }
}

/** Counts the appends the store refused with a conflict, to show the retries happened. */
function conflictCounting(store: EventStore): EventStore & { conflicts: () => number } {
  let conflicts = 0
  return {
    ...store,
    appendToStream: (name, events, options) =>
      store.appendToStream(name, events, options).catch((error: unknown) => {
        conflicts++
        throw error
      }),
    conflicts: () => conflicts,
  }
}

describe('createCommandBus', () => {
  it('appends once and answers the same result when the same command id is sent twice', async () => {
    const store = createInMemoryEventStore()
    const bus = createCommandBus({ store, aggregates: [Counter] })
    const commandId = randomUUID()
    const first = await bus.execute(increment(3, commandId))
    const second = await bus.execute(increment(3, commandId))
    expect(second).toEqual(first)
    expect(await streamOf(store)).toHaveLength(1)
  })

  it('appends once and answers alike when the same command id races itself', async () => {
    const store = createInMemoryEventStore()
    const bus = createCommandBus({ store, aggregates: [Counter] })
    const commandId = randomUUID()
    const [first, second] = await Promise.all([
      bus.execute(increment(3, commandId)),
      bus.execute(increment(3, commandId)),
    ])
    expect(second).toEqual(first)
    expect(await streamOf(store)).toHaveLength(1)
  })

  it('answers a repeated command id with the original result after a restart and other commands', async () => {
    const store = createInMemoryEventStore()
    const commandId = randomUUID()
    const first = await createCommandBus({ store, aggregates: [Counter] }).execute(increment(3, commandId))
    const restarted = createCommandBus({ store, aggregates: [Counter] })
    await restarted.execute(increment(4))
    expect(await restarted.execute(increment(3, commandId))).toEqual(first)
    expect(await streamOf(store)).toHaveLength(2)
  })

  it('ends 32 concurrent commands to one aggregate in the state of applying them one by one', async () => {
    const store = conflictCounting(createInMemoryEventStore())
    const bus = createCommandBus({ store, aggregates: [Counter], maxAttempts: 64, maxBackoffMs: 20 })
    const amounts = Array.from({ length: 32 }, (_, n) => n + 1)
    const results = await Promise.all(amounts.map((by) => bus.execute(increment(by))))
    const events = await streamOf(store)
    expect(events.map((e) => e.revision)).toEqual(amounts.map((_, n) => BigInt(n)))
    expect(new Set(events.map((e) => e.metadata.commandId))).toEqual(new Set(results.map((r) => r.commandId)))
    expect(store.conflicts()).toBeGreaterThan(0)
    const { state } = await loadAggregate(store, Counter, 'c-1')
    expect(state).toEqual({ value: amounts.reduce((a, b) => a + b), locked: false, steps: 32 })
  })

  it('gives up with CONCURRENCY_CONFLICT after maxAttempts conflicts in a row', async () => {
    const store = contendedStore(createInMemoryEventStore())
    const bus = createCommandBus({ store, aggregates: [Counter], maxAttempts: 3, backoffMs: 1 })
    await expect(bus.execute(increment(1))).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' })
  })

  it('refuses bad input with BAD_INPUT and appends nothing', async () => {
    const store = createInMemoryEventStore()
    const bus = createCommandBus({ store, aggregates: [Counter] })
    await expect(bus.execute(increment(0))).rejects.toMatchObject({ code: 'BAD_INPUT' })
    expect(await store.headPosition()).toBe(0n)
  })

  it('refuses an unknown aggregate or command with UNKNOWN_COMMAND', async () => {
    const bus = createCommandBus({ store: createInMemoryEventStore(), aggregates: [Counter] })
    await expect(bus.execute({ ...increment(1), aggregate: 'Nope' })).rejects.toMatchObject({
      code: 'UNKNOWN_COMMAND',
    })
    await expect(bus.execute({ ...increment(1), command: 'explode' })).rejects.toMatchObject({
      code: 'UNKNOWN_COMMAND',
    })
  })

  it('passes a domain error through with its own code, without retrying', async () => {
    const store = createInMemoryEventStore()
    const bus = createCommandBus({ store, aggregates: [Counter] })
    await bus.execute({
      aggregate: 'Counter',
      command: 'lock',
      aggregateId: 'c-1',
      input: { reason: 'audit' },
    })
    await expect(bus.execute(increment(1))).rejects.toMatchObject({ code: 'COUNTER_LOCKED' })
    expect(await streamOf(store)).toHaveLength(1)
  })

  it('refuses two aggregates with the same name with BAD_CONFIG', () => {
    expect(() =>
      createCommandBus({ store: createInMemoryEventStore(), aggregates: [Counter, Counter] }),
    ).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }))
  })
})
