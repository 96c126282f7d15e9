import { randomUUID } from 'node:crypto'
import { describe, expect, it, onTestFinished } from 'vitest'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { z } from 'zod'
import { defineAggregate } from '../aggregate/define-aggregate.ts'
import type { EventStore, RecordedEvent } from '../event-store/event-store.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { createCommandBus, type CommandBusOptions } from './create-command-bus.ts'
import { deriveEventId } from './derive-event-id.ts'
import { loadAggregate } from './load-aggregate.ts'

const Counter = counterAggregate()
const increment = (by: number, commandId?: string) => send('increment', { by }, commandId)
const send = (command: string, input: unknown, commandId?: string) => ({
  aggregate: 'Counter',
  command,
  aggregateId: 'c-1',
  input,
  ...(commandId ? { commandId } : {}),
})

/** A bus on the Counter whose passivation timer is stopped after the test. */
function busOn(store: EventStore, options: Partial<CommandBusOptions> = {}) {
  const bus = createCommandBus({ store, aggregates: [Counter], ...options })
  onTestFinished(() => bus.close())
  return bus
}

/** Counts the reads of the Counter's stream: a held aggregate is read once, a stateless one every time. */
function readCounting(store: EventStore): EventStore & { reads: () => number } {
  let reads = 0
  return {
    ...store,
    readStream: (name, options) => {
      if (name === Counter.streamName('c-1')) reads++
      return store.readStream(name, options)
    },
    reads: () => reads,
  }
}

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
    const bus = busOn(store)
    const commandId = randomUUID()
    const first = await bus.execute(increment(3, commandId))
    const second = await bus.execute(increment(3, commandId))
    expect(second).toEqual(first)
    expect(await streamOf(store)).toHaveLength(1)
  })

  it('appends once and answers alike when the same command id races itself', async () => {
    const store = createInMemoryEventStore()
    const bus = busOn(store)
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
    const first = await busOn(store).execute(increment(3, commandId))
    const restarted = busOn(store)
    await restarted.execute(increment(4))
    expect(await restarted.execute(increment(3, commandId))).toEqual(first)
    expect(await streamOf(store)).toHaveLength(2)
  })

  it('ends 32 concurrent commands to one aggregate in the state of applying them one by one, without a conflict', async () => {
    const store = conflictCounting(createInMemoryEventStore())
    const bus = busOn(store)
    const amounts = Array.from({ length: 32 }, (_, n) => n + 1)
    const results = await Promise.all(amounts.map((by) => bus.execute(increment(by))))
    const events = await streamOf(store)
    expect(events.map((e) => e.revision)).toEqual(amounts.map((_, n) => BigInt(n)))
    expect(new Set(events.map((e) => e.metadata.commandId))).toEqual(new Set(results.map((r) => r.commandId)))
    expect(store.conflicts()).toBe(0)
    const { state } = await loadAggregate(store, Counter, 'c-1')
    expect(state).toEqual({ value: amounts.reduce((a, b) => a + b), locked: false, steps: 32 })
  })

  it('gives up with CONCURRENCY_CONFLICT after maxConflictRetries conflicts in a row', async () => {
    const store = conflictCounting(contendedStore(createInMemoryEventStore()))
    const bus = busOn(store, { maxConflictRetries: 3 })
    await expect(bus.execute(increment(1))).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' })
    expect(store.conflicts()).toBe(4)
  })

  it('reads a held aggregate once, and decides again on the stream when another writer appended', async () => {
    const store = readCounting(createInMemoryEventStore())
    const bus = busOn(store)
    await bus.execute(increment(1))
    await bus.execute(increment(1))
    expect(store.reads()).toBe(1)
    await busOn(store).execute(increment(10))
    const result = await bus.execute(increment(1))
    expect(result.revision).toBe(3n)
    expect((await loadAggregate(store, Counter, 'c-1')).state.value).toBe(13)
    expect(bus.host.written().conflicts).toBe(1)
  })

  it('reads the aggregate for every command when stateless, and never conflicts with another writer', async () => {
    const store = createInMemoryEventStore()
    const counted = readCounting(store)
    const bus = busOn(counted, { stateless: true })
    await bus.execute(increment(1))
    await busOn(store).execute(increment(10))
    await bus.execute(increment(1))
    expect(counted.reads()).toBe(2)
    expect(bus.host.written().conflicts).toBe(0)
    expect((await loadAggregate(store, Counter, 'c-1')).state.value).toBe(12)
  })

  it('refuses bad input with BAD_INPUT and the zod issues, and appends nothing', async () => {
    const store = createInMemoryEventStore()
    const bus = busOn(store)
    await expect(bus.execute(increment(0))).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('Invalid input for Counter.increment: by:') as unknown,
      details: { issues: [expect.objectContaining({ path: ['by'] })] },
    })
    expect(await store.headPosition()).toBe(0n)
  })

  it('validates an input with an async refinement, once, before deciding', async () => {
    let checks = 0
    const Checked = defineAggregate({
      name: 'Checked',
      state: z.object({}),
      initialState: {},
      events: { Done: z.object({ code: z.string() }) },
      commands: {
        run: {
          input: z.object({
            code: z.string().refine(async (code) => (checks++, Promise.resolve(code !== 'no'))),
          }),
          decide: (_state, { code }) => ({ type: 'Done', data: { code } }),
        },
      },
      evolve: { Done: (state) => state },
    })
    const bus = createCommandBus({ store: createInMemoryEventStore(), aggregates: [Checked] })
    onTestFinished(() => bus.close())
    const envelope = (code: string) => ({
      aggregate: 'Checked',
      command: 'run',
      aggregateId: 'x',
      input: { code },
    })
    await expect(bus.execute(envelope('no'))).rejects.toMatchObject({ code: 'BAD_INPUT' })
    checks = 0
    expect((await bus.execute(envelope('yes'))).revision).toBe(0n)
    expect(checks).toBe(1)
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
    const bus = busOn(store)
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
  it('appends the decided event and answers with its revision, position and consistency token', async () => {
    const store = createInMemoryEventStore()
    const result = await busOn(store).execute(increment(2))
    const [stored] = await streamOf(store)
    expect(result).toEqual({
      aggregateId: 'c-1',
      commandId: result.commandId,
      revision: 0n,
      events: [
        { id: stored!.id, type: 'Incremented', data: { by: 2 }, revision: 0n, position: stored!.position },
      ],
      position: stored!.position,
    })
  })

  it('stores the schema version and the command id in each event, with ids derived from the command id', async () => {
    const store = createInMemoryEventStore()
    const commandId = randomUUID()
    await busOn(store).execute(send('incrementTwice', { by: 1 }, commandId))
    const events = await streamOf(store)
    expect(events.map((e) => e.id)).toEqual([deriveEventId(commandId, 0), deriveEventId(commandId, 1)])
    const commandHash = expect.stringMatching(/^[0-9a-z]+\.[0-9a-z]+$/) as unknown
    expect(events.map((e) => e.metadata)).toEqual([
      { schemaVersion: 2, commandId, commandHash },
      { schemaVersion: 2, commandId, commandHash },
    ])
  })

  it('gives the first event of a command sent without an id that id, the next ones ids derived from it, the same on every try', async () => {
    const store = createInMemoryEventStore()
    const tries: string[][] = []
    let rivalFirst = true
    const recording: EventStore = {
      ...store,
      appendToStream: async (name, events, options) => {
        tries.push(events.map((event) => event.id))
        if (rivalFirst) {
          rivalFirst = false
          await store.appendToStream(name, [{ id: randomUUID(), type: 'Noted', data: { text: 'rival' } }])
        }
        return store.appendToStream(name, events, options)
      },
    }
    const result = await busOn(recording).execute(send('incrementTwice', { by: 1 }))
    const ids = [result.commandId, deriveEventId(result.commandId, 1)]
    expect(tries).toEqual([ids, ids])
    expect(result.events.map((e) => e.id)).toEqual(ids)
    expect((await streamOf(store)).slice(1).map((e) => e.id)).toEqual(ids)
  })

  it('reports each event of a multi-event command with its own position', async () => {
    const store = createInMemoryEventStore()
    const result = await busOn(store).execute(send('incrementTwice', { by: 1 }))
    const events = await streamOf(store)
    expect(result.events.map((e) => [e.revision, e.position])).toEqual(
      events.map((e) => [e.revision, e.position]),
    )
    expect(result.position).toBe(events[1]!.position)
  })

  it('refuses an event that fails its schema with INVALID_EVENT and appends nothing', async () => {
    const store = createInMemoryEventStore()
    await expect(busOn(store).execute(send('lock', { reason: '' }))).rejects.toMatchObject({
      code: 'INVALID_EVENT',
    })
    expect(await streamOf(store)).toEqual([])
  })

  it('appends nothing when decide returns no events', async () => {
    const store = createInMemoryEventStore()
    const result = await busOn(store).execute(send('noteNothing', {}))
    expect(result).toMatchObject({ revision: -1n, events: [], position: 0n })
    expect(await store.headPosition()).toBe(0n)
  })
  describe('a command id reused for something else', () => {
    it('is refused with COMMAND_ID_REUSED for another input, another command or another aggregate', async () => {
      const store = createInMemoryEventStore()
      const bus = busOn(store)
      const commandId = randomUUID()
      await bus.execute(increment(3, commandId))
      await expect(bus.execute(increment(4, commandId))).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED' })
      await expect(bus.execute(send('lock', { reason: 'r' }, commandId))).rejects.toMatchObject({
        code: 'COMMAND_ID_REUSED',
      })
      await expect(bus.execute({ ...increment(3, commandId), aggregateId: 'c-2' })).rejects.toMatchObject({
        code: 'COMMAND_ID_REUSED',
      })
      expect(await streamOf(store)).toHaveLength(1)
      expect(await store.headPosition()).toBe((await streamOf(store))[0]!.position)
    })

    it('is refused after a restart, from what the events recorded of the first command', async () => {
      const store = createInMemoryEventStore()
      const commandId = randomUUID()
      await busOn(store).execute(increment(3, commandId))
      const restarted = busOn(store)
      await expect(restarted.execute(increment(4, commandId))).rejects.toMatchObject({
        code: 'COMMAND_ID_REUSED',
      })
      expect((await restarted.execute(increment(3, commandId))).revision).toBe(0n)
      expect(await streamOf(store)).toHaveLength(1)
    })

    it('is refused when both wait in one group, and the first one is appended', async () => {
      const store = createInMemoryEventStore()
      const bus = busOn(store)
      const commandId = randomUUID()
      const [first, second] = await Promise.allSettled([
        bus.execute(increment(3, commandId)),
        bus.execute(increment(4, commandId)),
      ])
      expect(first).toMatchObject({ status: 'fulfilled' })
      expect(second).toMatchObject({ status: 'rejected', reason: { code: 'COMMAND_ID_REUSED' } })
      expect((await streamOf(store)).map((e) => e.data)).toEqual([{ by: 3 }])
    })

    it('is a repeat, not a reuse, when the same input comes with its fields in another order', async () => {
      const Pair = defineAggregate({
        name: 'Pair',
        state: z.object({}),
        initialState: {},
        events: { Set: z.object({ a: z.number(), b: z.number() }) },
        commands: {
          set: {
            input: z.object({ a: z.number(), b: z.number() }),
            decide: (_s, data) => ({ type: 'Set', data }),
          },
        },
        evolve: { Set: (state) => state },
      })
      const store = createInMemoryEventStore()
      const commandId = randomUUID()
      const envelope = (input: object) => ({
        aggregate: 'Pair',
        command: 'set',
        aggregateId: 'p',
        input,
        commandId,
      })
      const first = createCommandBus({ store, aggregates: [Pair] })
      const restarted = createCommandBus({ store, aggregates: [Pair] })
      onTestFinished(() => (first.close(), restarted.close()))
      const result = await first.execute(envelope({ a: 1, b: 2 }))
      expect(await restarted.execute(envelope({ b: 2, a: 1 }))).toEqual(result)
      await expect(restarted.execute(envelope({ a: 2, b: 1 }))).rejects.toMatchObject({
        code: 'COMMAND_ID_REUSED',
      })
    })

    it('is a new command once the aggregate has forgotten it, past recentCommandsKept', async () => {
      const store = createInMemoryEventStore()
      const bus = busOn(store, { recentCommandsKept: 2 })
      const commandId = randomUUID()
      await bus.execute(increment(3, commandId))
      await bus.execute(increment(1, randomUUID()))
      expect((await bus.execute(increment(3, commandId))).revision).toBe(0n)
      await bus.execute(increment(1, randomUUID()))
      expect((await bus.execute(increment(3, commandId))).revision).toBe(3n)
    })
  })

  describe('a command sent without an id', () => {
    it('takes no place in the window: the ids callers sent stay remembered, before and after a restart', async () => {
      const store = createInMemoryEventStore()
      const bus = busOn(store, { recentCommandsKept: 2 })
      const commandId = randomUUID()
      const first = await bus.execute(increment(3, commandId))
      for (let index = 0; index < 5; index++) await bus.execute(increment(1))
      expect(await bus.execute(increment(3, commandId))).toEqual(first)
      const restarted = busOn(store, { recentCommandsKept: 2 })
      expect(await restarted.execute(increment(3, commandId))).toEqual(first)
      expect(await streamOf(store)).toHaveLength(6)
    })

    it('records its generated id without a command hash, and is not remembered after a reload', async () => {
      const store = createInMemoryEventStore()
      const { commandId } = await busOn(store).execute(increment(1))
      const [event] = await streamOf(store)
      expect(event?.metadata).toEqual({ schemaVersion: 2, commandId })
      const loaded = await loadAggregate(store, Counter, 'c-1')
      expect(loaded.recentCommands?.size).toBe(0)
    })
  })
})
