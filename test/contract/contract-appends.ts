import { describe, expect, it } from 'vitest'
import { ConcurrencyConflictError } from '../../framework/errors.ts'
import { collect, newEvents, rejection, scenario, type GetStore } from './contract-builders.ts'

/** Revisions, every expected-revision rule, and idempotent appends. */
export function appendContract(getStore: GetStore): void {
  describe('revisions', () => {
    it('numbers the events of a new stream from 0 and returns the last revision', async () => {
      const s = scenario('rev')
      const result = await getStore().appendToStream(s.stream(), newEvents(3, s.type('Happened')))
      expect(result.nextRevision).toBe(2n)
      const read = await collect(getStore().readStream(s.stream()))
      expect(read.map((event) => event.revision)).toEqual([0n, 1n, 2n])
    })

    it('continues the numbering on the next append', async () => {
      const s = scenario('rev')
      await getStore().appendToStream(s.stream(), newEvents(2, s.type('Happened')))
      const result = await getStore().appendToStream(s.stream(), newEvents(2, s.type('Happened')))
      expect(result.nextRevision).toBe(3n)
    })

    it('reads back what was appended: id, type, data, metadata, stream and a creation date', async () => {
      const s = scenario('rev')
      const [event] = newEvents(1, s.type('Happened'))
      await getStore().appendToStream(s.stream(), [event!])
      const [read] = await collect(getStore().readStream(s.stream()))
      expect(read).toMatchObject({
        streamName: s.stream(),
        id: event!.id,
        type: event!.type,
        data: event!.data,
        metadata: event!.metadata,
      })
      expect(Math.abs(read!.createdAt.getTime() - Date.now())).toBeLessThan(60_000)
    })

    it('appends nothing for an empty list and returns the current revision and position', async () => {
      const s = scenario('rev')
      const before = await getStore().appendToStream(s.stream(), newEvents(2, s.type('Happened')))
      const result = await getStore().appendToStream(s.stream(), [], { expectedRevision: 1n })
      // Compared field by field: a store may add the positions of the events it appended (none here).
      expect(result).toMatchObject({ nextRevision: before.nextRevision, position: before.position })
      expect(await collect(getStore().readStream(s.stream()))).toHaveLength(2)
    })

    it('accepts an empty list for a stream that does not exist, and creates nothing', async () => {
      const s = scenario('rev')
      await getStore().appendToStream(s.stream(), [])
      expect(await collect(getStore().readStream(s.stream()))).toEqual([])
    })

    it('refuses an event id that is not a UUID with BAD_INPUT', async () => {
      const s = scenario('rev')
      const error = await rejection(
        getStore().appendToStream(s.stream(), [{ id: 'not-a-uuid', type: s.type('Happened'), data: {} }]),
      )
      expect(error).toMatchObject({ code: 'BAD_INPUT' })
    })
  })

  describe('expected revision', () => {
    const cases = [
      { expected: 'any', existing: 0, appends: true },
      { expected: 'any', existing: 2, appends: true },
      { expected: 'no_stream', existing: 0, appends: true },
      { expected: 'no_stream', existing: 2, appends: false },
      { expected: 'stream_exists', existing: 0, appends: false },
      { expected: 'stream_exists', existing: 2, appends: true },
      { expected: 1n, existing: 2, appends: true },
      { expected: 0n, existing: 2, appends: false },
      { expected: 2n, existing: 2, appends: false },
      { expected: 0n, existing: 0, appends: false },
    ] as const
    for (const { expected, existing, appends } of cases) {
      it(`${appends ? 'appends' : 'conflicts'} with ${String(expected)} on a stream of ${existing} events`, async () => {
        const s = scenario('expect')
        if (existing > 0) await getStore().appendToStream(s.stream(), newEvents(existing, s.type('Happened')))
        const attempt = getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')), {
          expectedRevision: expected,
        })
        if (appends) {
          expect((await attempt).nextRevision).toBe(BigInt(existing))
          return
        }
        const error = await rejection(attempt)
        expect(error).toBeInstanceOf(ConcurrencyConflictError)
        expect(error).toMatchObject({
          code: 'CONCURRENCY_CONFLICT',
          streamName: s.stream(),
          expected,
          actual: existing > 0 ? BigInt(existing - 1) : undefined,
        })
        expect(await collect(getStore().readStream(s.stream()))).toHaveLength(existing)
      })
    }
  })

  describe('concurrent writers', () => {
    it('lets exactly one of several appends expecting the same revision succeed', async () => {
      const s = scenario('race')
      await getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')))
      const attempts = await Promise.allSettled(
        Array.from({ length: 5 }, () =>
          getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')), { expectedRevision: 0n }),
        ),
      )
      expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1)
      for (const attempt of attempts.filter((a) => a.status === 'rejected')) {
        expect(attempt.reason).toBeInstanceOf(ConcurrencyConflictError)
      }
      expect(await collect(getStore().readStream(s.stream()))).toHaveLength(2)
    })
  })

  describe('idempotent appends', () => {
    for (const expected of ['any', 'no_stream', 'stream_exists', 0n] as const) {
      it(`appends the same ids once and returns the original result (expected ${String(expected)})`, async () => {
        const s = scenario('idem')
        if (expected !== 'no_stream')
          await getStore().appendToStream(s.stream(), newEvents(1, s.type('Before')))
        const events = newEvents(2, s.type('Happened'))
        const first = await getStore().appendToStream(s.stream(), events, { expectedRevision: expected })
        await getStore().appendToStream(s.stream(), newEvents(1, s.type('After')))
        const again = await getStore().appendToStream(s.stream(), events, { expectedRevision: expected })
        expect(again).toEqual(first)
        const read = await collect(getStore().readStream(s.stream()))
        expect(read.filter((event) => event.type === s.type('Happened'))).toHaveLength(2)
      })
    }

    it('conflicts when only some of the ids were appended before (exact revision)', async () => {
      const s = scenario('idem')
      const [known, other] = newEvents(2, s.type('Happened'))
      await getStore().appendToStream(s.stream(), [known!], { expectedRevision: 'no_stream' })
      await getStore().appendToStream(s.stream(), newEvents(1, s.type('After')))
      const error = await rejection(
        getStore().appendToStream(s.stream(), [known!, other!], { expectedRevision: 'no_stream' }),
      )
      expect(error).toBeInstanceOf(ConcurrencyConflictError)
    })

    it('conflicts when only the first id was appended before (any)', async () => {
      const s = scenario('idem')
      const [known, other] = newEvents(2, s.type('Happened'))
      await getStore().appendToStream(s.stream(), [known!])
      const error = await rejection(getStore().appendToStream(s.stream(), [known!, other!]))
      expect(error).toBeInstanceOf(ConcurrencyConflictError)
      expect(await collect(getStore().readStream(s.stream()))).toHaveLength(1)
    })
  })
}
