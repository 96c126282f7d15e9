import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ListQuery } from '../framework/read-model/read-model-source.ts'
import { createInMemoryReadModelStore } from './in-memory-read-model-store.ts'

interface Row {
  id: string
  site: string
  kw: number
  name: string
}

function storeOf(count: number) {
  const store = createInMemoryReadModelStore<Row>({ key: 'id', indexes: ['site'] })
  for (let n = 0; n < count; n++) {
    const id = `r${String(n).padStart(3, '0')}`
    store.put(id, { id, site: `s${n % 10}`, kw: n % 7, name: `unit ${n}` })
  }
  return store
}

describe('the in-memory read-model store', () => {
  it('answers an eq or in filter on an indexed field from the index, not from every row', () => {
    const store = storeOf(200)
    expect(store.explain({ where: { site: { eq: 's3' } } })).toEqual({ index: 'site', candidates: 20 })
    expect(store.explain({ where: { site: { in: ['s1', 's2'] }, kw: { gt: 2 } } })).toEqual({
      index: 'site',
      candidates: 40,
    })
    expect(store.explain({ where: { id: { eq: 'r007' } } })).toEqual({ index: 'id', candidates: 1 })
    expect(store.explain({ where: { kw: { eq: 1 } } })).toEqual({ index: undefined, candidates: 200 })
  })

  it('keeps its indexes right when a row moves or is deleted', () => {
    const store = storeOf(20)
    store.put('r003', { id: 'r003', site: 's9', kw: 0, name: 'moved' })
    store.delete('r013')
    expect(store.list({ where: { site: { eq: 's3' } } }).rows.map((row) => row.id)).toEqual([])
    expect(store.list({ where: { site: { eq: 's9' } } }).rows.map((row) => row.id)).toEqual([
      'r003',
      'r009',
      'r019',
    ])
  })

  it('answers an indexed filter as a full scan would, after any sequence of puts and deletes', () => {
    const site = fc.constantFrom('s0', 's1', 's2')
    const operation = fc.oneof(
      fc.record({ put: fc.constantFrom('a', 'b', 'c', 'd'), site, kw: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ remove: fc.constantFrom('a', 'b', 'c', 'd') }),
    )
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), site, (operations, wanted) => {
        const indexed = createInMemoryReadModelStore<Row>({ key: 'id', indexes: ['site'] })
        const scanned = createInMemoryReadModelStore<Row>({ key: 'id' })
        for (const op of operations) {
          for (const store of [indexed, scanned]) {
            if ('put' in op) store.put(op.put, { id: op.put, site: op.site, kw: op.kw, name: op.put })
            else store.delete(op.remove)
          }
        }
        const query: ListQuery = { where: { site: { in: [wanted, 's1'] } } }
        expect(indexed.explain(query).index).toBe('site')
        expect(indexed.list(query).rows).toEqual(scanned.list(query).rows)
        const matching = scanned.list({ where: { site: { eq: wanted } } }).rows
        expect(indexed.list({ where: { site: { eq: wanted } } }).rows).toEqual(matching)
        // The bucket holds exactly the matching rows: no stale key is left behind by a move or a delete.
        expect(indexed.explain({ where: { site: { eq: wanted } } }).candidates).toBe(matching.length)
      }),
      { numRuns: 200 },
    )
  })

  it('applies every filter operator', () => {
    const store = storeOf(30)
    const ids = (where: NonNullable<ListQuery['where']>) =>
      store.list({ where, first: 100 }).rows.map((row) => row.id)
    expect(ids({ kw: { gte: 6 } })).toEqual(['r006', 'r013', 'r020', 'r027'])
    expect(ids({ kw: { lt: 1 }, site: { ne: 's0' } })).toEqual(['r007', 'r014', 'r021', 'r028'])
    expect(ids({ name: { contains: 'unit 2' }, kw: { lte: 1 } })).toEqual(['r021', 'r022', 'r028', 'r029'])
  })

  it('pages through a sort on any fields with an opaque cursor', () => {
    const store = storeOf(50)
    const orderBy = [
      { field: 'kw', direction: 'desc' as const },
      { field: 'site', direction: 'asc' as const },
    ]
    const seen: string[] = []
    let after: string | undefined
    do {
      const page = store.list({ orderBy, first: 7, ...(after === undefined ? {} : { after }) })
      seen.push(...page.rows.map((row) => row.id))
      after = page.hasNextPage ? page.endCursor : undefined
    } while (after !== undefined)
    const all = store.list({ orderBy, first: 1_000 }).rows.map((row) => row.id)
    expect(seen).toEqual(all)
    expect(new Set(seen).size).toBe(50)
  })

  it('refuses a cursor it did not issue', () => {
    expect(() => storeOf(3).list({ after: 'bm90IGEgY3Vyc29y' })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    )
  })
})
