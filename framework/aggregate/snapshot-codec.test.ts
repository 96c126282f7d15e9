import { describe, expect, it } from 'vitest'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { SNAPSHOT_EVENT_TYPE, snapshotCodec } from './snapshot-codec.ts'

const Counter = counterAggregate({ snapshotEvery: 10 })
const state = { value: 4, locked: false, steps: 4 }
const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

describe('snapshotCodec', () => {
  it('is due when the events appended cross a multiple of snapshotEvery', () => {
    expect(snapshotCodec.isDue(Counter, 8n, 9n)).toBe(true)
    expect(snapshotCodec.isDue(Counter, 7n, 12n)).toBe(true)
    expect(snapshotCodec.isDue(Counter, 9n, 18n)).toBe(false)
    expect(snapshotCodec.isDue(counterAggregate(), 8n, 9n)).toBe(false)
  })

  it('decodes what it encoded, through JSON, with the recent command window', () => {
    const recent = [
      ['command-1', { first: 3n, last: 4n, hash: 'h1' }],
      ['command-0', { first: 2n, last: 2n }],
    ] as const
    const { type, data } = snapshotCodec.encode(Counter, { state, revision: 4n }, recent)
    expect(snapshotCodec.decode(Counter, { type, data: roundTrip(data) })).toEqual({
      state,
      revision: 4n,
      recentCommands: recent,
    })
  })

  it('ignores a snapshot of another aggregate, another event type, or a mangled revision', () => {
    const { data } = snapshotCodec.encode(Counter, { state, revision: 4n })
    expect(snapshotCodec.decode(Counter, { type: 'Other', data })).toBeUndefined()
    expect(
      snapshotCodec.decode(Counter, { type: SNAPSHOT_EVENT_TYPE, data: { ...data, aggregate: 'X' } }),
    ).toBeUndefined()
    expect(
      snapshotCodec.decode(Counter, { type: SNAPSHOT_EVENT_TYPE, data: { ...data, revision: '-1' } }),
    ).toBeUndefined()
    expect(snapshotCodec.decode(Counter, { type: SNAPSHOT_EVENT_TYPE, data: null })).toBeUndefined()
  })

  it('ignores a snapshot whose state fails the current state schema', () => {
    const { type, data } = snapshotCodec.encode(Counter, { state: { value: 'four' }, revision: 4n })
    expect(snapshotCodec.decode(Counter, { type, data })).toBeUndefined()
  })
})
