import fc from 'fast-check'
import { GraphQLEnumType, GraphQLObjectType, GraphQLSchema, buildSchema, parse } from 'graphql'
import { compileQuery, isCompiledQuery } from 'graphql-jit'
import { describe, expect, it } from 'vitest'
import { compileResultCheck } from './result-check.ts'

const sdl = `
  enum Color { RED GREEN }
  scalar When
  interface Named { name: String }
  type Item { n: Int!, s: String, tags: [String!] }
  type Query {
    i: Int, f: Float, s: String, b: Boolean, id: ID, color: Color, when: When,
    ni: Int!, ns: String!, ints: [Int!], items: [Item!]!, named: Named
  }
  type Mutation { touch: Int }`
const base = buildSchema(sdl)
// An enum whose internal values differ from its names: graphql sends the name, a copy would send the value.
const Shade = new GraphQLEnumType({
  name: 'Shade',
  values: { DARK: { value: 'dark' }, LIGHT: { value: 'LIGHT' } },
})
const baseQuery = base.getQueryType()!.toConfig()
const schema = new GraphQLSchema({
  ...base.toConfig(),
  types: base.toConfig().types.filter((type) => type.name !== 'Query'),
  query: new GraphQLObjectType({ ...baseQuery, fields: { ...baseQuery.fields, shade: { type: Shade } } }),
})

const query =
  '{ i f s b id color when ni ns ints items { n s alias: tags ...more ...more } } fragment more on Item { n }'

const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.integer({ min: 2 ** 31 - 2, max: 2 ** 31 + 2 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constantFrom('RED', 'GREEN', 'red', 'dark', 'DARK', 'LIGHT', 1n),
)
/** Mostly a value graphql sends unchanged for the type, sometimes any value, so both outcomes are common. */
const valueOf = (valid: fc.Arbitrary<unknown>, nullable = true) =>
  fc.oneof(
    { arbitrary: nullable ? fc.option(valid, { nil: null }) : valid, weight: 12 },
    { arbitrary: leaf, weight: 1 },
  )
const int = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
const item = fc.record({
  n: valueOf(int, false),
  s: valueOf(fc.string()),
  tags: fc.option(fc.array(valueOf(fc.string(), false), { maxLength: 3 })),
})
const root = fc.record({
  i: valueOf(int),
  f: valueOf(fc.double({ noNaN: true, noDefaultInfinity: true })),
  s: valueOf(fc.string()),
  b: valueOf(fc.boolean()),
  id: valueOf(fc.string()),
  color: valueOf(fc.constantFrom('RED', 'GREEN')),
  when: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), // a custom scalar: serialized in both runs
  ni: valueOf(int, false),
  ns: valueOf(fc.string(), false),
  ints: fc.option(fc.array(valueOf(int, false), { maxLength: 3 })),
  items: fc.array(item, { maxLength: 3 }),
})

// Values graphql sends unchanged, which the examples above spoil one at a time.
const valid = {
  i: 1,
  f: 0.5,
  s: 's',
  b: true,
  id: 'x',
  color: 'RED',
  when: null,
  ni: 2,
  ns: '',
}
const validItems = { ints: [1], items: [{ n: 1, s: null, tags: ['a'] }] }

function compiled(options: { disableLeafSerialization?: boolean }) {
  const query_ = compileQuery(schema, parse(query), undefined, options)
  if (!isCompiledQuery(query_)) throw new Error('The query must compile')
  return query_
}

describe('the check of a copied result', () => {
  const check = compileResultCheck(schema, parse(query), undefined)!
  const copying = compiled({ disableLeafSerialization: true })
  const serializing = compiled({})

  it('passes only a copy that is, byte for byte, the serialized answer, and every copy graphql would send unchanged', async () => {
    let passed = 0
    await fc.assert(
      fc.asyncProperty(root, async (value) => {
        const copied = await copying.query(value, {}, {})
        const serialized = await serializing.query(value, {}, {})
        if (check(copied)) {
          passed++
          expect(JSON.stringify(copied)).toBe(JSON.stringify(serialized))
        }
        // graphql changed no value (a number sent as a String would become a string): the copy stands.
        if (!serialized.errors && JSON.stringify(copied) === JSON.stringify(serialized)) {
          expect(check(copied)).toBe(true)
        }
      }),
      {
        numRuns: 500,
        examples: [
          [{ ...valid, ...validItems }],
          // A null item nulls the list in both runs, but only the serializing run reports the bigint before it.
          [{ ...valid, ints: null, items: [{ n: 1, s: null, tags: [1n, null] }] }],
        ],
      },
    )
    // Both outcomes were seen often enough for the property to mean something.
    expect(passed).toBeGreaterThan(50)
    expect(passed).toBeLessThan(450)
  })

  it('covers no document it cannot check', () => {
    const uncovered = [
      'mutation { touch }',
      '{ named { name } }',
      '{ i @include(if: true) }',
      '{ __schema { queryType { name } } }',
      '{ items { ...onQuery } } fragment onQuery on Query { i }',
      'query A { i } query B { s }',
    ]
    for (const text of uncovered)
      expect(compileResultCheck(schema, parse(text), undefined), text).toBeUndefined()
    expect(compileResultCheck(schema, parse('query A { i } query B { s }'), 'B')).toBeTypeOf('function')
    expect(compileResultCheck(schema, parse('query A { i }'), 'C')).toBeUndefined()
  })

  it('covers no enum with a name other than its value, whose copy could never stand', () => {
    expect(compileResultCheck(schema, parse('{ shade }'), undefined)).toBeUndefined()
    expect(compileResultCheck(schema, parse('{ color }'), undefined)).toBeTypeOf('function')
  })

  it('walks a fragment once per selection set, as graphql runs it, however often it is spread there', () => {
    // Each fragment spreads the next twice: walked spread by spread, 20 fragments are 2^20 walks.
    const chain = Array.from(
      { length: 20 },
      (_, n) => `fragment F${n} on Item { s ...F${n + 1} ...F${n + 1} }`,
    )
    const document = parse(`{ items { ...F0 } } ${chain.join(' ')} fragment F20 on Item { n }`)
    const chained = compileResultCheck(schema, document, undefined)!
    // A hand-made result: graphql-jit's own compile of this document grows with 2^n (the gateway's limits
    // refuse such a document before anything compiles it).
    expect(chained({ data: { items: [{ s: 'a', n: 1 }] } })).toBe(true)
    expect(chained({ data: { items: [{ s: 'a', n: 2 ** 40 }] } })).toBe(false)
  })
})
