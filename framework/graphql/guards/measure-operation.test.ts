import { buildSchema, parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import { measureOperation } from './measure-operation.ts'

const schema = buildSchema(`
  type Row { id: ID! children(first: Int): [Row!]! }
  type Query { rows(first: Int): [Row!]! row(id: ID!): Row }
`)
const options = { defaultListSize: 10, maxPageSize: 100 }

describe('measureOperation', () => {
  it('costs the same document from the variables of each call, also when it was measured before', () => {
    const document = parse('query($n: Int, $m: Int) { rows(first: $n) { id children(first: $m) { id } } }')
    const cost = (variables: Record<string, unknown>) =>
      measureOperation(schema, document, { ...options, variables }).cost
    expect(cost({ n: 5, m: 2 })).toBe(1 + 5 + 5 + 5 * 2)
    expect(cost({ n: 50, m: 2 })).toBe(1 + 50 + 50 + 50 * 2)
    expect(cost({ n: 5, m: 2 })).toBe(1 + 5 + 5 + 5 * 2)
    expect(cost({ n: 5 })).toBe(1 + 5 + 5 + 5 * 100)
    expect(cost({ n: 5, m: 'many' })).toBe(1 + 5 + 5 + 5 * 100)
  })

  it('costs by the limits of each call, not those of the call that measured the document first', () => {
    const document = parse('{ rows { id } }')
    expect(measureOperation(schema, document, options).cost).toBe(1 + 100)
    expect(measureOperation(schema, document, { ...options, maxPageSize: 3 }).cost).toBe(1 + 3)
  })

  it('counts depth, aliases and introspection once per document and on every later call', () => {
    const document = parse(
      '{ a: row(id: "1") { children { children { id } } } b: __type(name: "Row") { name } }',
    )
    for (const attempt of [1, 2]) {
      const { depth, aliases, introspection } = measureOperation(schema, document, options)
      expect({ attempt, depth, aliases, introspection }).toEqual({
        attempt,
        depth: 4,
        aliases: 2,
        introspection: true,
      })
    }
  })

  it('still measures many different values of the same variable correctly', () => {
    const document = parse('query($n: Int) { rows(first: $n) { id } }')
    for (let n = 1; n <= 80; n++) {
      expect(measureOperation(schema, document, { ...options, variables: { n } }).cost).toBe(1 + n)
    }
  })

  it('walks a fragment once per selection set, as graphql runs it, however often it is spread there', () => {
    // Each fragment spreads the next twice: walked spread by spread, n fragments are 2^n walks (and a GET
    // URL holds 40 of them); 20 keep the old walk to seconds, so that this test fails on it instead of hanging.
    const fragments = Array.from(
      { length: 40 },
      (_, n) => `fragment F${n} on Row { id ...F${n + 1} ...F${n + 1} }`,
    )
    const document = parse(`{ rows(first: 2) { ...F0 } } ${fragments.join(' ')} fragment F20 on Row { id }`)
    const { cost, depth } = measureOperation(schema, document, options)
    // rows, then each fragment's id on each of the 2 rows, each fragment walked once.
    expect({ cost, depth }).toEqual({ cost: 1 + 2 * 21, depth: 2 })
  })

  it('walks a chain of fragments spread by many operations once per operation, each spread once', () => {
    // A copy of the path per spread made a chain of n fragments n² steps per operation: 50 operations over a
    // chain of 2,000 took seconds, so that this test fails on it instead of passing slowly.
    const fragments = Array.from({ length: 2000 }, (_, n) => `fragment F${n} on Row { ...F${n + 1} }`)
    const operations = Array.from({ length: 50 }, (_, n) => `query Q${n} { rows { ...F0 } }`)
    const document = parse(`${operations.join(' ')} ${fragments.join(' ')} fragment F2000 on Row { id }`)
    const { cost, spreads } = measureOperation(schema, document, options)
    expect({ cost, spreads }).toEqual({ cost: 1 + 100, spreads: 2001 })
  }, 5_000)

  it('counts fragment spreads as inlining expands them: each spread with the spreads of its fragment', () => {
    const twice = parse('{ rows { ...A ...A } } fragment A on Row { id ...B } fragment B on Row { id }')
    expect(measureOperation(schema, twice, options).spreads).toBe(2 * (1 + 1))
    const fragments = Array.from(
      { length: 40 },
      (_, n) => `fragment F${n} on Row { ...F${n + 1} ...F${n + 1} }`,
    )
    const chain = parse(`{ rows { ...F0 } } ${fragments.join(' ')} fragment F40 on Row { id }`)
    // 2 + 4 + ... + 2^40 spreads under F0, and F0's own: counted in one pass, not expanded.
    expect(measureOperation(schema, chain, options).spreads).toBe(2 ** 41 - 1)
  })
})
