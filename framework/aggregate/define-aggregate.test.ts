import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { StoredEventError } from '../errors.ts'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { defineAggregate, SCHEMA_VERSION_KEY, type StoredEventLike } from './define-aggregate.ts'

const Counter = counterAggregate()
const stored = (overrides: Partial<StoredEventLike>): StoredEventLike => ({
  streamName: 'Counter-c-1',
  revision: 7n,
  type: 'Incremented',
  data: { by: 1 },
  metadata: { [SCHEMA_VERSION_KEY]: 2 },
  ...overrides,
})

function parseError(event: StoredEventLike): StoredEventError {
  try {
    Counter.parseStoredEvent(event)
  } catch (error) {
    if (error instanceof StoredEventError) return error
    throw error
  }
  throw new Error('parseStoredEvent accepted the event')
}

describe('defineAggregate', () => {
  it('names streams after the aggregate and the id', () => {
    expect(Counter.streamName('c-1')).toBe('Counter-c-1')
    expect(Counter.snapshotStreamName('c-1')).not.toBe(Counter.streamName('c-1'))
  })

  it('gives each instance its own copy of the initial state', () => {
    const first = Counter.initial('a')
    first.value = 99
    expect(Counter.initial('b').value).toBe(0)
  })

  it('reads an event stored at an older version as the current shape', () => {
    const old = stored({ data: { amount: 3 }, metadata: { [SCHEMA_VERSION_KEY]: 1 } })
    expect(Counter.parseStoredEvent(old)).toEqual({ type: 'Incremented', data: { by: 3 } })
  })

  it('reads an event stored without a version as version 1', () => {
    expect(Counter.parseStoredEvent(stored({ data: { amount: 4 }, metadata: {} })).data).toEqual({ by: 4 })
  })

  it('refuses an event type it does not declare with UNKNOWN_EVENT_TYPE naming stream, revision and type', () => {
    const error = parseError(stored({ type: 'Exploded' }))
    expect(error).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', streamName: 'Counter-c-1', revision: 7n })
    expect(error.message).toContain('Exploded at Counter-c-1@7')
  })

  it('refuses a type named like an Object property with UNKNOWN_EVENT_TYPE', () => {
    expect(parseError(stored({ type: 'toString' })).code).toBe('UNKNOWN_EVENT_TYPE')
  })

  it('refuses data that fails the schema with MALFORMED_EVENT naming the field', () => {
    const error = parseError(stored({ data: { by: 'three' } }))
    expect(error).toMatchObject({ code: 'MALFORMED_EVENT', eventType: 'Incremented', revision: 7n })
    expect(error.message).toContain('by')
  })

  it('refuses a stored version newer than the declared one with MALFORMED_EVENT', () => {
    expect(parseError(stored({ metadata: { [SCHEMA_VERSION_KEY]: 3 } })).code).toBe('MALFORMED_EVENT')
    expect(
      parseError(stored({ type: 'Locked', data: { reason: 'x' }, metadata: { schemaVersion: 2 } })).code,
    ).toBe('MALFORMED_EVENT')
  })

  it('reports the current version of each event type', () => {
    expect([Counter.eventVersion('Incremented'), Counter.eventVersion('Locked')]).toEqual([2, 1])
  })

  it('refuses an event without an evolve function with BAD_CONFIG', () => {
    const define = () =>
      defineAggregate({
        name: 'Broken',
        state: z.object({}),
        initialState: {},
        events: { Happened: z.object({}) },
        commands: {},
        evolve: {} as never,
      })
    expect(define).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }))
  })

  it('refuses a name that is not an identifier with BAD_CONFIG', () => {
    expect(() => counterAggregateNamed('Bad-Name')).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }))
  })
})

function counterAggregateNamed(name: string) {
  return defineAggregate({ ...counterAggregate(), name })
}
