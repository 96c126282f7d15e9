import fc from 'fast-check'
import { parse } from 'fast-querystring'
import { describe, expect, it } from 'vitest'
import { createQuerystringCache } from './querystring-cache.ts'

// Characters that matter to a querystring parser: separators, escapes (valid and broken), plus, non-ASCII.
const piece = fc.constantFrom(
  'a',
  'b',
  '=',
  '&',
  '+',
  '%20',
  '%3D',
  '%26',
  '%E2%82%AC',
  '%',
  '%zz',
  'é',
  '€',
  '__proto__',
)
const querystring = fc.array(piece, { maxLength: 24 }).map((pieces) => pieces.join(''))

/** The same own keys and values on an ordinary object, whatever the prototype of the parsed one. */
const plain = (parsed: object): object => ({ ...parsed })

describe('the querystring cache', () => {
  it('parses every querystring as fastify does, the first time and every time after', () => {
    const cache = createQuerystringCache()
    fc.assert(
      fc.property(querystring, (text) => {
        const expected = text.length === 0 ? {} : parse(text)
        expect(plain(cache.parse(text))).toStrictEqual(plain(expected))
        expect(plain(cache.parse(text))).toStrictEqual(plain(expected))
      }),
    )
  })

  it('gives each request its own object, so changing one changes no later one', () => {
    const cache = createQuerystringCache()
    const first = cache.parse('tag=a&tag=b&name=x')
    first['name'] = 'changed'
    ;(first['tag'] as string[]).push('c')
    delete first['tag']
    expect(plain(cache.parse('tag=a&tag=b&name=x'))).toStrictEqual(plain(parse('tag=a&tag=b&name=x')))
  })

  it('remembers at most maxEntries querystrings, forgetting the oldest', () => {
    const cache = createQuerystringCache({ maxEntries: 2 })
    for (const text of ['a=1', 'b=2', 'c=3', 'a=1']) cache.parse(text)
    expect(cache.size).toBe(2)
    expect(plain(cache.parse('b=2'))).toStrictEqual(plain(parse('b=2')))
  })

  it('parses a querystring longer than maxLength without remembering it', () => {
    const cache = createQuerystringCache({ maxLength: 8 })
    expect(plain(cache.parse('query=0123456789'))).toStrictEqual(plain(parse('query=0123456789')))
    expect(cache.size).toBe(0)
    cache.parse('q=1')
    expect(cache.size).toBe(1)
  })

  it('answers an empty querystring with an empty object, remembering nothing', () => {
    const cache = createQuerystringCache()
    expect(plain(cache.parse(''))).toStrictEqual({})
    expect(cache.size).toBe(0)
  })
})
