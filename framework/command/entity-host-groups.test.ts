import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import { deriveEventId } from './derive-event-id.ts'
import { StoreUnavailableError } from '../errors.ts'
import {
  check,
  codeOf,
  countingStore,
  entityHostsClosedAfterEach,
  increment,
  refuse,
  storedOf,
  valueOf,
} from '../../test/support/entity-host.fixture.ts'
import { NotOwnerError } from './not-owner-error.ts'

const hostOn = entityHostsClosedAfterEach()

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

  it('decides a conflicted group again as one group, up to its bound of retries', async () => {
    const { store, counts, conflictAlways } = countingStore()
    const host = hostOn(store, { maxConflictRetries: 2 })
    conflictAlways()
    const settled = await Promise.allSettled(Array.from({ length: 3 }, () => host.execute(increment('c-1'))))
    expect(settled.map((s) => s.status === 'rejected' && codeOf(s.reason))).toEqual([
      'CONCURRENCY_CONFLICT',
      'CONCURRENCY_CONFLICT',
      'CONCURRENCY_CONFLICT',
    ])
    // One first append of the group, then one per retry: the whole group each time, never command by command.
    expect(counts.appends).toBe(1 + 2)
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
})
