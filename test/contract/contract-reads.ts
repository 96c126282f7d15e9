import { describe, expect, it } from 'vitest'
import { collect, indexes, newEvents, scenario, type GetStore } from './contract-builders.ts'

/** `$all` positions, readAll, readStream, stream metadata and the head position. */
export function readContract(getStore: GetStore): void {
  describe('$all positions', () => {
    it('gives every event a strictly increasing position, across streams and appends', async () => {
      const s = scenario('pos')
      await getStore().appendToStream(s.stream('a'), newEvents(3, s.type('Happened')))
      await getStore().appendToStream(s.stream('b'), newEvents(2, s.type('Happened')))
      await getStore().appendToStream(s.stream('a'), newEvents(2, s.type('Happened')))
      const [first] = await collect(getStore().readStream(s.stream('a'), { maxCount: 1 }))
      const ours = await collect(
        getStore().readAll({ fromPosition: first!.position, eventTypes: [s.type('Happened')] }),
      )
      const positions = ours.map((event) => event.position)
      expect(ours.map((event) => event.streamName)).toEqual([
        ...Array<string>(3).fill(s.stream('a')),
        ...Array<string>(2).fill(s.stream('b')),
        ...Array<string>(2).fill(s.stream('a')),
      ])
      for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!)
    })

    it('returns from an append the position its last event has when read back', async () => {
      const s = scenario('pos')
      const result = await getStore().appendToStream(s.stream(), newEvents(3, s.type('Happened')))
      const fromStream = await collect(
        getStore().readStream(s.stream(), { direction: 'backwards', maxCount: 1 }),
      )
      expect(fromStream[0]!.position).toBe(result.position)
      const fromAll = await collect(getStore().readAll({ fromPosition: result.position, maxCount: 1 }))
      expect(fromAll[0]).toMatchObject({ streamName: s.stream(), revision: 2n, position: result.position })
    })

    it('reports a head position at or past the last append', async () => {
      const s = scenario('pos')
      const result = await getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')))
      expect(await getStore().headPosition()).toBeGreaterThanOrEqual(result.position)
    })
  })

  describe('readAll', () => {
    it('reads forwards from a position, including the event at it', async () => {
      const s = scenario('all')
      await getStore().appendToStream(s.stream(), newEvents(3, s.type('Happened')))
      const [, second] = await collect(getStore().readStream(s.stream()))
      const read = await collect(getStore().readAll({ fromPosition: second!.position, maxCount: 2 }))
      expect(read.map((event) => [event.streamName, event.revision])).toEqual([
        [s.stream(), 1n],
        [s.stream(), 2n],
      ])
    })

    it('reads backwards from a position, excluding the event at it', async () => {
      const s = scenario('all')
      await getStore().appendToStream(s.stream(), newEvents(3, s.type('Happened')))
      const [, , third] = await collect(getStore().readStream(s.stream()))
      const read = await collect(
        getStore().readAll({ direction: 'backwards', fromPosition: third!.position, maxCount: 2 }),
      )
      expect(read.map((event) => [event.streamName, event.revision])).toEqual([
        [s.stream(), 1n],
        [s.stream(), 0n],
      ])
    })

    it('reads backwards from the end, newest first', async () => {
      const s = scenario('all')
      const result = await getStore().appendToStream(s.stream(), newEvents(2, s.type('Happened')))
      const read = await collect(getStore().readAll({ direction: 'backwards', maxCount: 1 }))
      expect(read[0]!.position).toBeGreaterThanOrEqual(result.position)
    })

    it('keeps only the asked event types, up to maxCount', async () => {
      const s = scenario('all')
      const kept = s.type('Kept')
      const result = await getStore().appendToStream(s.stream(), [
        ...newEvents(2, s.type('Skipped')),
        ...newEvents(3, kept),
      ])
      const start = (await collect(getStore().readStream(s.stream())))[0]!.position
      const read = await collect(getStore().readAll({ fromPosition: start, eventTypes: [kept], maxCount: 2 }))
      expect(read.map((event) => event.type)).toEqual([kept, kept])
      expect(read[1]!.position).toBeLessThan(result.position)
    })

    it('leaves out system streams unless asked, but keeps their events in $all', async () => {
      const s = scenario('all')
      const result = await getStore().appendToStream(s.stream(), newEvents(1, s.type('Happened')))
      await getStore().setStreamMetadata(s.stream(), { owner: s.stream() })
      const visible = await collect(getStore().readAll({ fromPosition: result.position }))
      expect(visible.some((event) => event.streamName.startsWith('$'))).toBe(false)
      const everything = await collect(
        getStore().readAll({ fromPosition: result.position, excludeSystemEvents: false }),
      )
      expect(everything.map((event) => event.streamName)).toContain(`$$${s.stream()}`)
    })
  })

  describe('readStream', () => {
    it('reads forwards from a revision, inclusive, up to maxCount', async () => {
      const s = scenario('stream')
      await getStore().appendToStream(s.stream(), newEvents(5, s.type('Happened')))
      const read = await collect(getStore().readStream(s.stream(), { fromRevision: 1n, maxCount: 3 }))
      expect(indexes(read)).toEqual([1, 2, 3])
    })

    it('reads backwards from the end, newest first', async () => {
      const s = scenario('stream')
      await getStore().appendToStream(s.stream(), newEvents(5, s.type('Happened')))
      const read = await collect(getStore().readStream(s.stream(), { direction: 'backwards', maxCount: 2 }))
      expect(indexes(read)).toEqual([4, 3])
    })

    it('reads backwards from a revision, inclusive', async () => {
      const s = scenario('stream')
      await getStore().appendToStream(s.stream(), newEvents(5, s.type('Happened')))
      const read = await collect(
        getStore().readStream(s.stream(), { direction: 'backwards', fromRevision: 2n }),
      )
      expect(indexes(read)).toEqual([2, 1, 0])
    })

    it('yields nothing for a stream that does not exist', async () => {
      const s = scenario('stream')
      expect(await collect(getStore().readStream(s.stream('missing')))).toEqual([])
    })
  })

  describe('stream metadata', () => {
    it('returns undefined for a stream without metadata', async () => {
      const s = scenario('meta')
      expect(await getStore().getStreamMetadata(s.stream())).toBeUndefined()
    })

    it('returns the latest metadata set, custom keys included', async () => {
      const s = scenario('meta')
      await getStore().setStreamMetadata(s.stream(), { $maxCount: 10 })
      await getStore().setStreamMetadata(s.stream(), { $maxCount: 5, owner: 'fleet' })
      expect(await getStore().getStreamMetadata(s.stream())).toEqual({ $maxCount: 5, owner: 'fleet' })
    })

    it('hides events beyond $maxCount from stream reads but not from $all', async () => {
      const s = scenario('meta')
      await getStore().setStreamMetadata(s.stream(), { $maxCount: 2 })
      await getStore().appendToStream(s.stream(), newEvents(5, s.type('Happened')))
      expect(indexes(await collect(getStore().readStream(s.stream())))).toEqual([3, 4])
      const fromAll = await collect(
        getStore().readAll({ direction: 'backwards', eventTypes: [s.type('Happened')], maxCount: 5 }),
      )
      expect(indexes(fromAll)).toEqual([4, 3, 2, 1, 0])
    })
  })
}
