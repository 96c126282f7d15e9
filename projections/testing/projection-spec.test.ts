import { AssertionError } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAggregate, versionedEvent } from '../../framework/index.ts'
import { defineProjection } from '../define-projection.ts'
import { projectionSpec } from './projection-spec.ts'

const Tank = defineAggregate({
  name: 'Tank',
  state: z.object({ litres: z.number() }),
  initialState: { litres: 0 },
  commands: {},
  events: {
    // Version 2 added the unit; a version-1 event is in litres.
    Filled: versionedEvent(z.object({ amount: z.number(), unit: z.enum(['l', 'ml']) }), {
      version: 2,
      upcasters: { 1: (v1: { amount: number }) => ({ ...v1, unit: 'l' }) },
    }),
    Drained: z.object({}),
  },
  evolve: { Filled: (state) => state, Drained: () => ({ litres: 0 }) },
})

const tankLevel = defineProjection({
  name: 'tankLevel',
  row: z.object({ tankId: z.string(), litres: z.number().nonnegative(), at: z.date() }),
  key: 'tankId',
  from: [Tank],
  handlers: {
    Filled: (row, { data }, { key, createdAt }) => {
      if (data.amount === 13) throw new Error('an unlucky amount')
      const litres = data.unit === 'ml' ? data.amount / 1000 : data.amount
      return { tankId: key, litres: (row?.litres ?? 0) + litres, at: createdAt }
    },
    Drained: (row, _event, { createdAt }) => row && { ...row, litres: -1, at: createdAt },
  },
})

const spec = projectionSpec(tankLevel)
const start = new Date('2026-01-01T00:00:00Z')

describe('projectionSpec', () => {
  it('folds the history through the projection, events stored at the version their aggregate declares', async () => {
    const outcome = await spec.given([
      { aggregateId: 't1', type: 'Filled', data: { amount: 2, unit: 'l' } },
      {
        aggregateId: 't1',
        type: 'Filled',
        data: { amount: 500, unit: 'ml' },
        at: new Date('2026-01-02T00:00:00Z'),
      },
      { aggregateId: 't2', type: 'Filled', data: { amount: 1, unit: 'l' } },
    ])
    outcome.thenRows([
      { tankId: 't1', litres: 2.5, at: new Date('2026-01-02T00:00:00Z') },
      { tankId: 't2', litres: 1, at: new Date('2026-01-02T00:00:00Z') },
    ])
    expect(outcome.deadLetters).toEqual([])
  })

  it('holds an event whose handler throws, or whose row the schema refuses, and goes on with the others', async () => {
    const outcome = await spec.given([
      { aggregateId: 't1', type: 'Filled', data: { amount: 13, unit: 'l' } },
      { aggregateId: 't2', type: 'Filled', data: { amount: 4, unit: 'l' } },
      { aggregateId: 't2', type: 'Drained', data: {} },
      { aggregateId: 't3', type: 'Filled', data: { amount: 1, unit: 'l' } },
    ])
    outcome
      .thenNoRow('t1')
      .thenRow('t2', { tankId: 't2', litres: 4, at: start })
      .thenRow('t3', (row) => {
        expect(row.litres).toBe(1)
      })
    expect(outcome.deadLetters.map((letter) => letter.key).sort()).toEqual(['t1', 't2'])
  })

  it('fails an assertion that does not hold, naming the row', async () => {
    const outcome = await spec.given([{ aggregateId: 't1', type: 'Filled', data: { amount: 1, unit: 'l' } }])
    expect(() => outcome.thenRow('t1', { tankId: 't1', litres: 2, at: start })).toThrow(AssertionError)
    expect(() => outcome.thenRow('t9', { tankId: 't9', litres: 1, at: start })).toThrow('No row t9')
    expect(() => outcome.thenNoRow('t1')).toThrow('A row t1 exists')
    expect(() => outcome.thenRows([])).toThrow(AssertionError)
  })
})
