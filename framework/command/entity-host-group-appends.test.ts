import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import { defineAggregate } from '../aggregate/define-aggregate.ts'
import { snapshotCodec } from '../aggregate/snapshot-codec.ts'
import {
  countingStore,
  entityHostsClosedAfterEach,
  increment,
  storedOf,
  valueOf,
} from '../../test/support/entity-host.fixture.ts'

const hostOn = entityHostsClosedAfterEach()

/** An aggregate whose events carry text of any size, to fill an append. */
const Note = defineAggregate({
  name: 'Note',
  state: z.object({ writes: z.number() }),
  initialState: { writes: 0 },
  events: { Written: z.object({ text: z.string() }) },
  commands: {
    write: {
      input: z.object({ text: z.string().max(1_000_000) }),
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

describe('createEntityHost: commands waiting together', () => {
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
    expect(host.written()).toEqual({ appends: 2, commands: 11, conflicts: 0 })
  })

  it('takes at most the bound of commands in one group', async () => {
    const { store, counts } = countingStore()
    const host = hostOn(store, { maxGroupSize: 4 })
    await Promise.all(Array.from({ length: 10 }, () => host.execute(increment('c-1'))))
    expect(counts.appends).toBe(3)
  })
})
