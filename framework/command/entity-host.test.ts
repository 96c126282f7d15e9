import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import {
  countingStore,
  entityHostsClosedAfterEach,
  increment,
  valueOf,
} from '../../test/support/entity-host.fixture.ts'
import { NotOwnerError } from './not-owner-error.ts'
import { StoreUnavailableError } from '../errors.ts'

const hostOn = entityHostsClosedAfterEach()

describe('createEntityHost', () => {
  it('runs concurrent commands to one aggregate one after another, without a conflict', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store)
    const results = await Promise.all(Array.from({ length: 50 }, () => host.execute(increment('c-1'))))
    expect(results.map((r) => r.revision)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i)))
    expect(counts.conflicts).toBe(0)
    expect((await valueOf(store, 'c-1')).value).toBe(50)
  })

  it('answers every waiting command with the error of a load that failed, and loads again for the next', async () => {
    const { store, failReads } = countingStore()
    failReads(new StoreUnavailableError('down for the test'))
    const host = hostOn(store)
    const answers = await Promise.allSettled([1, 2, 3].map(() => host.execute(increment('c-1'))))
    expect(answers.map((a) => a.status === 'rejected' && (a.reason as { code?: string }).code)).toEqual([
      'STORE_UNAVAILABLE',
      'STORE_UNAVAILABLE',
      'STORE_UNAVAILABLE',
    ])
    failReads(undefined)
    expect((await host.execute(increment('c-1'))).revision).toBe(0n)
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
    expect(handedOff).toEqual([
      [
        expect.objectContaining({ commandId: command.commandId, rawInput: command.input }),
        expect.any(NotOwnerError),
      ],
    ])
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
