import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ListQuery } from '../../framework/read-model/read-model-source.ts'
import { commitBatch } from '../../test/contract/read-model-store-contract.ts'
import { createInMemoryReadModelStore, type InMemoryReadModelStore } from './in-memory-read-model-store.ts'

interface Row {
  id: string
  site: string
  kw: number
  name: string
}

/** Commits one batch of writes (undefined deletes), as the engine does. */
async function write(store: InMemoryReadModelStore<Row>, writes: [string, Row | undefined][]) {
  const position = (await store.open()).position + 1n
  await commitBatch(store, position, writes)
}

async function storeOf(count: number) {
  const store = createInMemoryReadModelStore<Row>({ key: 'id', indexes: ['site'] })
  const rows: [string, Row][] = []
  for (let n = 0; n < count; n++) {
    const id = `r${String(n).padStart(3, '0')}`
    rows.push([id, { id, site: `s${n % 10}`, kw: n % 7, name: `unit ${n}` }])
  }
  await write(store, rows)
  return store
}

const ids = async (page: Promise<{ rows: readonly Row[] }>) => (await page).rows.map((row) => row.id)

describe('the in-memory read-model store', () => {
  it('answers an eq or in filter on an indexed field from the index, not from every row', async () => {
    const store = await storeOf(200)
    expect(store.explain({ where: { site: { eq: 's3' } } })).toEqual({ index: 'site', candidates: 20 })
    expect(store.explain({ where: { site: { in: ['s1', 's2'] }, kw: { gt: 2 } } })).toEqual({
      index: 'site',
      candidates: 40,
    })
    expect(store.explain({ where: { id: { eq: 'r007' } } })).toEqual({ index: 'id', candidates: 1 })
    expect(store.explain({ where: { kw: { eq: 1 } } })).toEqual({ index: undefined, candidates: 200 })
  })

  it('keeps its indexes right when a row moves or is deleted', async () => {
    const store = await storeOf(20)
    await write(store, [
      ['r003', { id: 'r003', site: 's9', kw: 0, name: 'moved' }],
      ['r013', undefined],
    ])
    expect(await ids(store.list({ where: { site: { eq: 's3' } } }))).toEqual([])
    expect(await ids(store.list({ where: { site: { eq: 's9' } } }))).toEqual(['r003', 'r009', 'r019'])
  })

  it('answers an indexed filter as a full scan would, after any sequence of puts and deletes', async () => {
    const site = fc.constantFrom('s0', 's1', 's2')
    const operation = fc.oneof(
      fc.record({ put: fc.constantFrom('a', 'b', 'c', 'd'), site, kw: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ remove: fc.constantFrom('a', 'b', 'c', 'd') }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 40 }), site, async (operations, wanted) => {
        const indexed = createInMemoryReadModelStore<Row>({ key: 'id', indexes: ['site'] })
        const scanned = createInMemoryReadModelStore<Row>({ key: 'id' })
        for (const op of operations) {
          for (const store of [indexed, scanned]) {
            if ('put' in op)
              await write(store, [[op.put, { id: op.put, site: op.site, kw: op.kw, name: op.put }]])
            else await write(store, [[op.remove, undefined]])
          }
        }
        const query: ListQuery = { where: { site: { in: [wanted, 's1'] } } }
        expect(indexed.explain(query).index).toBe('site')
        expect((await indexed.list(query)).rows).toEqual((await scanned.list(query)).rows)
        const matching = (await scanned.list({ where: { site: { eq: wanted } } })).rows
        expect((await indexed.list({ where: { site: { eq: wanted } } })).rows).toEqual(matching)
        // The bucket holds exactly the matching rows: no stale key is left behind by a move or a delete.
        expect(indexed.explain({ where: { site: { eq: wanted } } }).candidates).toBe(matching.length)
      }),
      { numRuns: 200 },
    )
  })
})
