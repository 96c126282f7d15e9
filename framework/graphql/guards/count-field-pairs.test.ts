import { parse } from 'graphql'
import { describe, expect, it } from 'vitest'
import { countFieldPairs } from './count-field-pairs.ts'

const pairs = (query: string, max = Infinity) => countFieldPairs(parse(query), max)

describe('countFieldPairs', () => {
  it('counts every two fields of one response name in a selection set, and none of distinct names', () => {
    expect(pairs('{ a a a b c: a }')).toBe(3)
    expect(pairs('{ a b c d }')).toBe(0)
  })

  it('counts fields merged through inline fragments and fragments, each fragment once per merged set', () => {
    expect(pairs('{ a ... on Query { a } ...F ...F } fragment F on Query { a }')).toBe(3 + 0)
  })

  it('counts every two fragments spread in one merged set', () => {
    expect(
      pairs('{ ...A ...B ...C } fragment A on Q { x } fragment B on Q { y } fragment C on Q { z }'),
    ).toBe(3)
  })

  it('counts the sub-selections of merged fields as one merged set', () => {
    // t t t merge: 3 pairs; their 3 x 2 = 6 `l`s merge: 15 pairs.
    expect(pairs('{ t { l l } t { l l } t { l l } }')).toBe(3 + 15)
  })

  it('counts a fragment that no operation spreads, as graphql validates it too', () => {
    expect(pairs('{ a } fragment U on Query { b b }')).toBe(1)
  })

  it('stops past max, and ends on a fragment cycle', () => {
    expect(pairs(`{ ${'a '.repeat(100)}}`, 10)).toBeGreaterThan(10)
    expect(pairs('{ ...F } fragment F on Q { t { ...F } }')).toBe(0)
  })

  it('gives Infinity for fragments that fan out beyond what it walks', () => {
    let query = '{ ...F0 }'
    for (let i = 0; i < 40; i++) query += ` fragment F${i} on Q { a { ...F${i + 1} } b { ...F${i + 1} } }`
    query += ' fragment F40 on Q { z }'
    expect(pairs(query)).toBe(Infinity)
  })
})
