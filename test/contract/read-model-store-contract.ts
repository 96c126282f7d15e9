import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAggregate } from '../../framework/aggregate/define-aggregate.ts'
import type { FieldFilter, ListQuery, OrderBy } from '../../framework/read-model/read-model-source.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import type { ReadModelStore, RowBatch } from '../../projections/read-models/read-model-store.ts'
import { matchesWhere, rowComparator } from '../../projections/read-models/row-query.ts'

const Unit = defineAggregate({
  name: 'Unit',
  state: z.object({}),
  initialState: {},
  events: { Seen: z.object({}) },
  commands: {},
  evolve: { Seen: (state) => state },
})

export const UnitRow = z.object({
  id: z.string(),
  site: z.string(),
  kw: z.number(),
  active: z.boolean(),
  seenAt: z.date(),
  note: z.string().exactOptional(),
  readings: z.array(z.object({ at: z.date(), kw: z.number() })),
})
export type UnitRow = z.infer<typeof UnitRow>

/** The projection the contract stores rows of: every kind of field a row can have. */
export const units = defineProjection({
  name: 'units',
  row: UnitRow,
  key: 'id',
  from: [Unit],
  indexes: ['site'],
  handlers: {},
})

/** How a contract run opens a store: `reopen` is what the next process finds over the same data. */
export interface StoreUnderTest {
  readonly store: ReadModelStore<UnitRow>
  readonly reopen: () => ReadModelStore<UnitRow>
  /** Lets go of what the run holds (a database's connections), for runs that open many stores. */
  readonly close: () => Promise<void>
}

export function unitRow(n: number, overrides: Partial<UnitRow> = {}): UnitRow {
  return {
    id: `u${String(n).padStart(3, '0')}`,
    site: `s${n % 4}`,
    kw: n % 7,
    active: n % 3 === 0,
    seenAt: new Date(Date.UTC(2026, 0, 1, 0, n)),
    ...(n % 5 === 0 ? {} : { note: `note ${n}` }),
    readings: [{ at: new Date(Date.UTC(2026, 0, 1, 12, n)), kw: n / 2 }],
    ...overrides,
  }
}

/** A batch as the engine commits it. */
export function batchOf<TRow = UnitRow>(
  position: bigint,
  writes: readonly (readonly [string, NoInfer<TRow> | undefined])[],
  extra: Partial<RowBatch<TRow>> = {},
): RowBatch<TRow> {
  return {
    writes: new Map(writes),
    stored: new Set(),
    position,
    version: 1,
    held: undefined,
    changes: [],
    changesSkipped: false,
    caughtUp: true,
    ...extra,
  }
}

/** Commits a batch as the engine does: its keys loaded first, so the store knows which rows it holds. */
export async function commitBatch<TRow = UnitRow>(
  store: ReadModelStore<TRow>,
  position: bigint,
  writes: readonly (readonly [string, NoInfer<TRow> | undefined])[],
  extra: Partial<RowBatch<TRow>> = {},
): Promise<void> {
  const found = await store.load(writes.map(([key]) => key))
  await store.commit(batchOf(position, writes, { stored: new Set(found.keys()), ...extra }))
}

const ids = async (page: Promise<{ rows: readonly UnitRow[] }>) => (await page).rows.map((row) => row.id)

/**
 * The contract every read-model store keeps, whatever holds the rows: commits whole, reads back what it
 * committed (dates included), filters, sorts and pages exactly as the in-memory reference does.
 */
export function readModelStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`the read-model store contract: ${name}`, () => {
    it('opens an empty model at position 0, with no held keys', async () => {
      const { store } = await open()
      expect(await store.open()).toMatchObject({ position: 0n, held: [] })
    })

    it('commits rows, checkpoint and held keys together, and the next process finds them', async () => {
      const { store, reopen } = await open()
      await store.open()
      const held = [{ key: 'u002', position: 40n, after: 30n }]
      await commitBatch(
        store,
        50n,
        [
          ['u001', unitRow(1)],
          ['u002', unitRow(2)],
        ],
        { held },
      )
      const next = reopen()
      expect(await next.open()).toMatchObject({ position: 50n, version: 1, held })
      expect(await next.get('u001')).toEqual(unitRow(1))
      expect([...(await next.load(['u001', 'u002', 'u404'])).keys()].sort()).toEqual(['u001', 'u002'])
    })

    it('keeps the held keys of the last commit when a batch gives none, and deletes a row written as undefined', async () => {
      const { store, reopen } = await open()
      await store.open()
      const held = [{ key: 'u001', position: 5n, after: 4n }]
      await commitBatch(
        store,
        10n,
        [
          ['u001', unitRow(1)],
          ['u002', unitRow(2)],
        ],
        { held },
      )
      await commitBatch(store, 11n, [['u001', undefined]])
      const next = reopen()
      expect(await next.open()).toMatchObject({ position: 11n, held })
      expect(await next.get('u001')).toBeUndefined()
      expect(await ids(next.list({}))).toEqual(['u002'])
    })

    it('reads rows back as they were written: dates, nested dates, an absent optional field', async () => {
      const { store } = await open()
      await store.open()
      const rows = [unitRow(5), unitRow(6)]
      await commitBatch(
        store,
        1n,
        rows.map((row) => [row.id, row] as const),
      )
      const read = await store.get('u005')
      expect(read).toEqual(rows[0])
      expect(read?.seenAt).toBeInstanceOf(Date)
      expect(read?.readings[0]?.at).toBeInstanceOf(Date)
      expect(read && 'note' in read).toBe(false)
      expect((await store.list({ where: { id: { eq: 'u006' } } })).rows).toEqual([rows[1]])
    })

    it('reads back a batch large enough to load in bulk, text of every kind included, and the batches after it', async () => {
      const { store, reopen } = await open()
      await store.open()
      const texts = [
        'back\\slash',
        'tab\there',
        'new\nline',
        'cr\rhere',
        '\\N',
        'null',
        '"quoted"',
        'ünï €',
        '',
      ]
      const rows = Array.from({ length: 1_200 }, (_, n) =>
        unitRow(n, { site: texts[n % texts.length]!, kw: n % 2 === 0 ? -(n + 1) / 3 : n * 1e6 }),
      )
      await commitBatch(
        store,
        10n,
        rows.map((row) => [row.id, row] as const),
      )
      // The next batch updates some of them, deletes others and adds new ones.
      const next = [
        ...rows.slice(0, 300).map((row) => [row.id, { ...row, note: 'updated\t\\' }] as const),
        ...rows.slice(300, 400).map((row) => [row.id, undefined] as const),
        ...Array.from({ length: 600 }, (_, n) => [`v${n}`, unitRow(2_000 + n, { id: `v${n}` })] as const),
      ]
      await commitBatch(store, 20n, next)
      const expected = new Map<string, UnitRow>(rows.map((row) => [row.id, row]))
      for (const [key, row] of next) {
        if (row === undefined) expected.delete(key)
        else expected.set(key, row)
      }
      const reopened = reopen()
      expect(await reopened.open()).toMatchObject({ position: 20n })
      const all: UnitRow[] = []
      for (let after: string | undefined; ;) {
        const page = await reopened.list({ first: 1_000, ...(after ? { after } : {}) })
        all.push(...page.rows)
        if (!page.hasNextPage) break
        after = page.endCursor
      }
      expect(all).toEqual([...expected.values()].sort((a, b) => (a.id < b.id ? -1 : 1)))
      for (const site of texts) {
        const where = { site: { eq: site } }
        const matching = [...expected.values()].filter((row) => matchesWhere(row, where))
        expect((await reopened.list({ where, first: 1_000 })).rows).toHaveLength(matching.length)
      }
    })

    it('applies every filter operator, on the key, strings, numbers, booleans, dates and an optional field', async () => {
      const { store } = await open()
      await store.open()
      await commitBatch(
        store,
        1n,
        Array.from({ length: 30 }, (_, n) => [unitRow(n).id, unitRow(n)] as const),
      )
      const where = (filters: Record<string, FieldFilter>) => ids(store.list({ where: filters, first: 100 }))
      const reference = (filters: Record<string, FieldFilter>) =>
        Array.from({ length: 30 }, (_, n) => unitRow(n))
          .filter((row) => matchesWhere(row, filters))
          .map((row) => row.id)
      const cases: Record<string, FieldFilter>[] = [
        { kw: { gte: 6 } },
        { kw: { lt: 1 }, site: { ne: 's0' } },
        { site: { in: ['s1', 's3'] }, active: { eq: true } },
        { id: { in: ['u003', 'u017', 'u404'] } },
        { id: { gt: 'u025' } },
        { seenAt: { gt: new Date(Date.UTC(2026, 0, 1, 0, 20)) } },
        { note: { contains: 'e 2' } },
        { note: { ne: 'note 1' }, kw: { lte: 0 } },
        { active: { ne: true }, kw: { eq: 3 } },
      ]
      for (const filters of cases) expect(await where(filters)).toEqual(reference(filters))
    })

    it('pages through any order, nulls first ascending, with cursors that neither overlap nor skip', async () => {
      const { store } = await open()
      await store.open()
      await commitBatch(
        store,
        1n,
        Array.from({ length: 23 }, (_, n) => [unitRow(n).id, unitRow(n)] as const),
      )
      const orders: OrderBy[][] = [
        [],
        [{ field: 'kw', direction: 'desc' }],
        [
          { field: 'note', direction: 'asc' },
          { field: 'site', direction: 'desc' },
        ],
        [{ field: 'note', direction: 'desc' }],
        // The first page ends on u000, whose note is missing: nothing sorts after it descending.
        [
          { field: 'kw', direction: 'asc' },
          { field: 'note', direction: 'desc' },
        ],
        [{ field: 'seenAt', direction: 'desc' }],
        [{ field: 'active', direction: 'asc' }],
      ]
      const all = Array.from({ length: 23 }, (_, n) => unitRow(n))
      for (const orderBy of orders) {
        const seen: string[] = []
        let after: string | undefined
        do {
          const page = await store.list({ orderBy, first: 4, ...(after === undefined ? {} : { after }) })
          seen.push(...page.rows.map((row) => row.id))
          after = page.hasNextPage ? page.endCursor : undefined
        } while (after !== undefined)
        expect(seen).toEqual([...all].sort(rowComparator(orderBy, 'id')).map((row) => row.id))
      }
    })

    it('lists as the in-memory reference does after any batches of writes and deletes', async () => {
      const write = fc.record({
        n: fc.integer({ min: 0, max: 15 }),
        kw: fc.integer({ min: 0, max: 3 }),
        note: fc.option(fc.constantFrom('a', 'b', 'ab'), { nil: undefined }),
        gone: fc.boolean(),
      })
      const filter = fc.oneof(
        fc.record({ kw: fc.record({ gte: fc.integer({ min: 0, max: 3 }) }) }),
        fc.record({ note: fc.record({ eq: fc.constantFrom('a', 'b') }) }),
        fc.record({ note: fc.record({ ne: fc.constantFrom('a', 'b') }) }),
        fc.record({ site: fc.record({ in: fc.subarray(['s0', 's1', 's2', 's3']) }) }),
        fc.constant({}),
      )
      const order = fc
        .subarray(['kw', 'note', 'site', 'active'])
        .chain((fields) =>
          fc.tuple(
            ...fields.map((field) =>
              fc.constantFrom<OrderBy>({ field, direction: 'asc' }, { field, direction: 'desc' }),
            ),
          ),
        )
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(write, { maxLength: 6 }), { minLength: 1, maxLength: 5 }),
          filter,
          order,
          fc.integer({ min: 1, max: 5 }),
          async (batches, where, orderBy, first) => {
            const { store, close } = await open()
            try {
              await store.open()
              const reference = new Map<string, UnitRow>()
              for (const [index, batch] of batches.entries()) {
                const writes = new Map<string, UnitRow | undefined>()
                for (const { n, kw, note, gone } of batch) {
                  const row = unitRow(n, { kw })
                  if (note === undefined) delete row.note
                  else row.note = note
                  writes.set(row.id, gone ? undefined : row)
                }
                await commitBatch(store, BigInt(index + 1), [...writes])
                for (const [key, row] of writes) {
                  if (row === undefined) reference.delete(key)
                  else reference.set(key, row)
                }
              }
              const query: ListQuery = { where: where, orderBy, first }
              const expected = [...reference.values()]
                .filter((row) => matchesWhere(row, query.where))
                .sort(rowComparator(orderBy, 'id'))
              const seen: UnitRow[] = []
              let after: string | undefined
              do {
                const page = await store.list({ ...query, ...(after === undefined ? {} : { after }) })
                seen.push(...page.rows)
                after = page.hasNextPage ? page.endCursor : undefined
              } while (after !== undefined)
              expect(seen).toEqual(expected)
            } finally {
              await close()
            }
          },
        ),
        { numRuns: 25 },
      )
    })

    it('refuses a cursor it did not issue with BAD_INPUT', async () => {
      const { store } = await open()
      await store.open()
      await expect(store.list({ after: 'bm90IGEgY3Vyc29y' })).rejects.toMatchObject({ code: 'BAD_INPUT' })
    })

    it('caps a page at its largest size, and gives the default size when a query names none', async () => {
      const { store } = await open()
      await store.open()
      await commitBatch(
        store,
        1n,
        Array.from({ length: 120 }, (_, n) => [unitRow(n).id, unitRow(n)] as const),
      )
      expect((await store.list({})).rows).toHaveLength(100)
      expect((await store.list({ first: 5_000 })).rows).toHaveLength(120)
      expect(await store.list({ first: 0 })).toMatchObject({ rows: [], hasNextPage: true })
    })

    it('forgets every row, the checkpoint and the held keys when cleared', async () => {
      const { store, reopen } = await open()
      await store.open()
      const held = [{ key: 'u001', position: 5n, after: 4n }]
      await commitBatch(store, 9n, [['u001', unitRow(1)]], { held })
      await store.clear()
      const next = reopen()
      expect(await next.open()).toMatchObject({ position: 0n, held: [] })
      expect(await next.get('u001')).toBeUndefined()
    })
  })
}
