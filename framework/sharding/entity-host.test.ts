import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import { defineAggregate } from '../aggregate/define-aggregate.ts'
import { snapshotCodec } from '../aggregate/snapshot-codec.ts'
import { deriveEventId } from '../command/derive-event-id.ts'
import { ConcurrencyConflictError, StoreUnavailableError } from '../errors.ts'
import type { EventStore, RecordedEvent } from '../event-store/event-store.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { createEntityHost, NotOwnerError, type EntityHost, type EntityHostOptions } from './entity-host.ts'

/** An in-memory store that counts stream reads, and can be told to refuse every append as a conflict. */
function countingStore() {
  const inner = createInMemoryEventStore()
  const counts = { reads: 0, appends: 0, conflicts: 0 }
  const appendSizes: number[] = []
  let conflictAlways = false
  let failNext: Error | undefined
  const store: EventStore = {
    ...inner,
    async appendToStream(name, events, options) {
      if (!name.startsWith('annals-snapshot')) {
        counts.appends++
        appendSizes.push(events.reduce((sum, e) => sum + bytesOf(e.data) + bytesOf(e.metadata ?? {}), 0))
      }
      const failure = failNext
      failNext = undefined
      if (failure) throw failure
      if (conflictAlways) throw new ConcurrencyConflictError(name, 0n, 1n)
      try {
        return await inner.appendToStream(name, events, options)
      } catch (error) {
        if (error instanceof ConcurrencyConflictError) counts.conflicts++
        throw error
      }
    },
    readStream(name, options) {
      if (!name.startsWith('annals-snapshot')) counts.reads++
      return inner.readStream(name, options)
    },
  }
  return {
    store,
    inner,
    counts,
    appendSizes,
    conflictAlways: () => (conflictAlways = true),
    failNextAppend: (error: Error) => (failNext = error),
  }
}

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value))
const codeOf = (error: unknown) => (error as { code?: unknown }).code

const hosts: EntityHost[] = []
function hostOn(store: EventStore, overrides: Partial<EntityHostOptions> = {}): EntityHost {
  const host = createEntityHost({ store, aggregates: [Counter], ...overrides })
  hosts.push(host)
  return host
}
afterEach(() => hosts.splice(0).forEach((h) => h.close()))

const increment = (aggregateId: string, by = 1, commandId = randomUUID()) => ({
  aggregate: 'Counter',
  command: 'increment',
  aggregateId,
  input: { by },
  commandId,
})

async function valueOf(store: EventStore, id: string) {
  let value = 0
  const revisions: bigint[] = []
  for await (const e of store.readStream(Counter.streamName(id))) {
    value += (e.data as { by: number }).by
    revisions.push(e.revision)
  }
  return { value, revisions }
}

describe('createEntityHost', () => {
  it('runs concurrent commands to one aggregate one after another, without a conflict', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    const results = await Promise.all(Array.from({ length: 50 }, () => host.execute(increment('c-1'))))
    expect(results.map((r) => r.revision)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)))
    expect(counts.conflicts).toBe(0)
    expect((await valueOf(store, 'c-1')).value).toBe(50)
  })

  it('reads a hot aggregate once, then writes without reading', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    await host.execute(increment('c-1'))
    const readsAfterLoad = counts.reads
    for (let i = 0; i < 10; i++) await host.execute(increment('c-1'))
    expect(counts.reads).toBe(readsAfterLoad)
  })

  it('passivates an aggregate idle past the timeout, and reloads it from its snapshot and events', async () => {
    const { store, counts } = countingStore()
    let clock = 0
    const host = hostOn(store, { passivateAfterMs: 1000, now: () => clock })
    for (let i = 0; i < 25; i++) await host.execute(increment('c-1', 2))
    clock = 2000
    expect(host.passivateIdle()).toBe(1)
    expect(host.hosted()).toBe(0)
    const readsBefore = counts.reads
    const result = await host.execute(increment('c-1', 2))
    expect(counts.reads).toBe(readsBefore + 1)
    expect(result.revision).toBe(25n)
    expect((await valueOf(store, 'c-1')).value).toBe(52)
  })

  it('keeps aggregates touched within the timeout', async () => {
    const { store } = countingStore()
    let clock = 0
    const host = hostOn(store, { passivateAfterMs: 1000, now: () => clock })
    await host.execute(increment('old'))
    clock = 900
    await host.execute(increment('recent'))
    clock = 1500
    expect(host.passivateIdle()).toBe(1)
    expect(host.hosted()).toBe(1)
  })

  it('holds at most the bound of aggregates, dropping the least recently used', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store, { maxHosted: 3 })
    for (const id of ['a', 'b', 'c', 'd', 'e']) await host.execute(increment(id))
    expect(host.hosted()).toBe(3)
    const readsBefore = counts.reads
    await host.execute(increment('e'))
    await host.execute(increment('c'))
    expect(counts.reads).toBe(readsBefore)
    await host.execute(increment('a'))
    expect(counts.reads).toBe(readsBefore + 1)
  })

  it('reloads and decides again when someone else wrote to the stream', async () => {
    const { store, inner } = countingStore()
    const host = hostOn(store)
    await host.execute(increment('c-1'))
    await inner.appendToStream(Counter.streamName('c-1'), [
      { id: randomUUID(), type: 'Incremented', data: { by: 10, sequence: 0 } },
    ])
    const result = await host.execute(increment('c-1'))
    expect(result.revision).toBe(2n)
    expect(await valueOf(store, 'c-1')).toEqual({ value: 12, revisions: [0n, 1n, 2n] })
  })

  it('gives up with CONCURRENCY_CONFLICT after the bound of retries', async () => {
    const { store, counts, conflictAlways } = countingStore()
    const host = hostOn(store, { maxConflictRetries: 3 })
    conflictAlways()
    await expect(host.execute(increment('c-1'))).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' })
    expect(counts.appends).toBe(4)
  })

  it('hands a conflicted command back to the router when another replica owns the aggregate now', async () => {
    const { store, conflictAlways } = countingStore()
    const host = hostOn(store)
    conflictAlways()
    await expect(host.execute(increment('c-1'), { stillOwns: () => false })).rejects.toBeInstanceOf(
      NotOwnerError,
    )
  })

  it('answers a conflicted command with what the hand-off returns when its aggregate moved', async () => {
    const { store, conflictAlways } = countingStore()
    const host = hostOn(store)
    conflictAlways()
    const command = increment('c-1')
    const elsewhere = {
      aggregateId: 'c-1',
      commandId: command.commandId,
      revision: 7n,
      events: [],
      position: 9n,
    }
    const handedOff: unknown[] = []
    const ownership = {
      stillOwns: () => false,
      handOff: (moved: unknown, error: NotOwnerError) => {
        handedOff.push([moved, error])
        return Promise.resolve(elsewhere)
      },
    }
    expect(await host.execute(command, ownership)).toBe(elsewhere)
    expect(handedOff).toEqual([[command, expect.any(NotOwnerError)]])
    await host.drain()
  })

  it('keeps the copy after a domain refusal, so the next command reads nothing', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    await host.execute(increment('c-1'))
    const readsBefore = counts.reads
    const refuse = {
      aggregate: 'Counter',
      command: 'refuse',
      aggregateId: 'c-1',
      input: {},
      commandId: randomUUID(),
    }
    await expect(host.execute(refuse)).rejects.toMatchObject({ code: 'REFUSED' })
    await host.execute(increment('c-1'))
    expect(counts.reads).toBe(readsBefore)
  })

  it('appends a repeated command id once and answers it with the first result', async () => {
    const { store } = countingStore()
    const host = hostOn(store)
    const command = increment('c-1', 5)
    const first = await host.execute(command)
    const again = await host.execute(command)
    expect(again.revision).toBe(first.revision)
    expect(await valueOf(store, 'c-1')).toEqual({ value: 5, revisions: [0n] })
  })

  it('refuses an aggregate it does not host with UNKNOWN_COMMAND', async () => {
    const host = hostOn(countingStore().store)
    await expect(host.execute({ ...increment('x'), aggregate: 'Nope' })).rejects.toMatchObject({
      code: 'UNKNOWN_COMMAND',
    })
  })

  it('drains: resolves once every accepted command has finished', async () => {
    const { store } = countingStore()
    const host = hostOn(store)
    const pending = Array.from({ length: 20 }, (_, i) => host.execute(increment(`c-${i % 4}`)))
    await host.drain()
    const done = await Promise.allSettled(pending)
    expect(done.every((d) => d.status === 'fulfilled')).toBe(true)
  })
})

const refuse = (aggregateId: string, commandId = randomUUID()) => ({
  aggregate: 'Counter',
  command: 'refuse',
  aggregateId,
  input: {},
  commandId,
})
const check = (aggregateId: string, value: number, increments: number) => ({
  aggregate: 'Counter',
  command: 'check',
  aggregateId,
  input: { value, increments },
  commandId: randomUUID(),
})

/** An aggregate whose events carry text of any size, to fill an append. */
const Note = defineAggregate({
  name: 'Note',
  state: z.object({ writes: z.number() }),
  initialState: { writes: 0 },
  events: { Written: z.object({ text: z.string() }) },
  commands: {
    write: {
      input: z.object({ text: z.string() }),
      decide: (_s, { text }) => ({ type: 'Written', data: { text } }),
    },
  },
  evolve: { Written: (state) => ({ writes: state.writes + 1 }) },
})
const write = (aggregateId: string, text: string) => ({
  aggregate: 'Note',
  command: 'write',
  aggregateId,
  input: { text },
  commandId: randomUUID(),
})

async function storedOf(store: EventStore, stream: string) {
  const events: RecordedEvent[] = []
  for await (const e of store.readStream(stream)) events.push(e)
  return events
}

describe('createEntityHost: commands waiting together', () => {
  it('decides them in order and writes them in one append, each with its own ids, revision and position', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    const commands = Array.from({ length: 30 }, (_, i) => increment('c-1', i + 1))
    const results = await Promise.all(commands.map((c) => host.execute(c)))
    expect(counts.appends).toBe(1)
    const stored = await storedOf(store, Counter.streamName('c-1'))
    results.forEach((result, i) => {
      expect(result.commandId).toBe(commands[i]!.commandId)
      expect(result.revision).toBe(BigInt(i))
      expect(result.events).toEqual([
        {
          id: deriveEventId(commands[i]!.commandId, 0),
          type: 'Incremented',
          data: { by: i + 1, sequence: 0 },
          revision: BigInt(i),
          position: stored[i]!.position,
        },
      ])
      expect(result.position).toBe(stored[i]!.position)
    })
    expect(stored.map((e) => e.metadata.commandId)).toEqual(commands.map((c) => c.commandId))
  })

  it('answers a refused command with its error and lets the others through', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    const settled = await Promise.allSettled([
      host.execute(increment('c-1', 600_000_000)),
      host.execute(refuse('c-1')),
      host.execute(increment('c-1', 600_000_000)),
      host.execute(increment('c-1', 3)),
      host.execute(check('c-1', 600_000_003, 2)),
    ])
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.revision : codeOf(s.reason)))).toEqual([
      0n,
      'REFUSED',
      'COUNTER_FULL',
      1n,
      1n,
    ])
    expect(counts.appends).toBe(1)
    expect(await valueOf(store, 'c-1')).toEqual({ value: 600_000_003, revisions: [0n, 1n] })
  })

  it('appends a command id repeated within one group once, and answers both with its result', async () => {
    const { store } = countingStore()
    const host = hostOn(store)
    const twice = increment('c-1', 5)
    const [first, other, again] = await Promise.all([
      host.execute(twice),
      host.execute(increment('c-1', 1)),
      host.execute(twice),
    ])
    expect(again).toEqual(first)
    expect(other.revision).toBe(1n)
    expect(await valueOf(store, 'c-1')).toEqual({ value: 6, revisions: [0n, 1n] })
  })

  it('answers a command id applied before the group with its first result', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    const earlier = increment('c-1', 5)
    const first = await host.execute(earlier)
    const [again, next] = await Promise.all([host.execute(earlier), host.execute(increment('c-1', 1))])
    expect(again).toEqual(first)
    expect(next.revision).toBe(1n)
    expect(counts.appends).toBe(2)
    expect(await valueOf(store, 'c-1')).toEqual({ value: 6, revisions: [0n, 1n] })
  })

  it('after a conflict on the group append, reloads and runs each command again, in order', async () => {
    const { store, inner, counts } = countingStore()
    const host = hostOn(store)
    await host.execute(increment('c-1'))
    await inner.appendToStream(Counter.streamName('c-1'), [
      { id: randomUUID(), type: 'Incremented', data: { by: 10, sequence: 0 } },
    ])
    const results = await Promise.all(Array.from({ length: 5 }, () => host.execute(increment('c-1'))))
    expect(counts.conflicts).toBe(1)
    expect(results.map((r) => r.revision)).toEqual([2n, 3n, 4n, 5n, 6n])
    expect(await valueOf(store, 'c-1')).toEqual({ value: 16, revisions: [0n, 1n, 2n, 3n, 4n, 5n, 6n] })
  })

  it('hands a conflicted group back to the router when another replica owns the aggregate now', async () => {
    const { store, conflictAlways } = countingStore()
    const host = hostOn(store)
    conflictAlways()
    const settled = await Promise.allSettled(
      Array.from({ length: 3 }, () => host.execute(increment('c-1'), { stillOwns: () => false })),
    )
    expect(settled.map((s) => s.status === 'rejected' && s.reason instanceof NotOwnerError)).toEqual([
      true,
      true,
      true,
    ])
  })

  it('gives each command of a conflicted group its own bound of retries', async () => {
    const { store, counts, conflictAlways } = countingStore()
    const host = hostOn(store, { maxConflictRetries: 2 })
    conflictAlways()
    const settled = await Promise.allSettled(Array.from({ length: 3 }, () => host.execute(increment('c-1'))))
    expect(settled.map((s) => s.status === 'rejected' && codeOf(s.reason))).toEqual([
      'CONCURRENCY_CONFLICT',
      'CONCURRENCY_CONFLICT',
      'CONCURRENCY_CONFLICT',
    ])
    expect(counts.appends).toBe(1 + 3 * 2)
  })

  it('fails the commands that depended on a failed group append, answers the others, and reloads', async () => {
    const { store, counts, failNextAppend } = countingStore()
    const host = hostOn(store)
    await host.execute(increment('c-1'))
    failNextAppend(new StoreUnavailableError('the store is down'))
    const settled = await Promise.allSettled([
      host.execute(refuse('c-1')),
      host.execute(increment('c-1')),
      host.execute(refuse('c-1')),
    ])
    expect(settled.map((s) => s.status === 'rejected' && codeOf(s.reason))).toEqual([
      'REFUSED',
      'STORE_UNAVAILABLE',
      'STORE_UNAVAILABLE',
    ])
    const readsBefore = counts.reads
    expect((await host.execute(increment('c-1'))).revision).toBe(1n)
    expect(counts.reads).toBe(readsBefore + 1)
  })

  it('splits a group before its append passes the byte limit', async () => {
    const { store, counts, appendSizes } = countingStore()
    const host = hostOn(store, { aggregates: [Note], maxAppendBytes: 1000 })
    const texts = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(300))
    const results = await Promise.all(texts.map((text) => host.execute(write('n-1', text))))
    expect(results.map((r) => r.revision)).toEqual(texts.map((_, i) => BigInt(i)))
    expect(counts.appends).toBeGreaterThan(1)
    expect(Math.max(...appendSizes)).toBeLessThanOrEqual(1000)
    const stored = await storedOf(store, Note.streamName('n-1'))
    expect(stored.map((e) => (e.data as { text: string }).text)).toEqual(texts)
  })

  it('keeps every append within 1 MiB by default', async () => {
    const { store, appendSizes } = countingStore()
    const host = hostOn(store, { aggregates: [Note] })
    await Promise.all(Array.from({ length: 6 }, () => host.execute(write('n-1', 'x'.repeat(300_000)))))
    expect(appendSizes.length).toBeGreaterThan(1)
    expect(Math.max(...appendSizes)).toBeLessThanOrEqual(1024 * 1024)
  })

  it('writes a snapshot when a group crosses the snapshot interval', async () => {
    const { store } = countingStore()
    const host = hostOn(store)
    await Promise.all(Array.from({ length: 25 }, () => host.execute(increment('c-1'))))
    const [snapshot] = await storedOf(store, Counter.snapshotStreamName('c-1'))
    expect(snapshotCodec.decode(Counter, snapshot!)).toMatchObject({ revision: 24n, state: { value: 25 } })
  })

  it('stays within its bound of hosted aggregates while groups run on many', async () => {
    const { store } = countingStore()
    const host = hostOn(store, { maxHosted: 3 })
    const ids = Array.from({ length: 10 }, (_, i) => `c-${i}`)
    await Promise.all(ids.flatMap((id) => Array.from({ length: 5 }, () => host.execute(increment(id)))))
    expect(host.hosted()).toBeLessThanOrEqual(3)
    for (const id of ids) expect((await valueOf(store, id)).value).toBe(5)
  })

  it('writes the commands of callers answered together, who send again at once, in one append again', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let round = 0; round < 4; round++) await host.execute(increment('c-1'))
      }),
    )
    expect(counts.appends).toBe(4)
    expect((await valueOf(store, 'c-1')).value).toBe(64)
  })

  it('counts its appends and the commands decided in them', async () => {
    const { store } = countingStore()
    const host = hostOn(store)
    await Promise.all(Array.from({ length: 10 }, () => host.execute(increment('c-1'))))
    await host.execute(increment('c-1'))
    const refused = host.execute({ ...increment('c-1'), command: 'refuse', input: {} })
    await expect(refused).rejects.toMatchObject({ code: 'REFUSED' })
    expect(host.written()).toEqual({ appends: 2, commands: 11 })
  })

  it('takes at most the bound of commands in one group', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store, { maxGroupSize: 4 })
    await Promise.all(Array.from({ length: 10 }, () => host.execute(increment('c-1'))))
    expect(counts.appends).toBe(3)
  })
})
