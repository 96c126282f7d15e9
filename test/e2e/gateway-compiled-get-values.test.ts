import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fill, firstError, startPair, warm, type Pair } from './fixtures/compiled-get-pair.ts'

// The compiled GET first runs a query copying String, ID, Int, Float, Boolean and enum values as the
// resolvers return them, and keeps that answer only when every such value is what graphql would send.
// These tests hold the answers to the normal path's where a value is not.

const levels = 'query Levels($n: Int) { tankLevelList(first: $n) { nodes { tankId litres status } } }'
const notes = 'query Notes($n: Int) { tankLevelList(first: $n) { nodes { tankId note } } }'

describe('values a compiled GET copies', () => {
  let pair: Pair
  beforeAll(async () => {
    pair = await startPair({ limits: { rateLimit: false } })
    // The row schema takes any integer; GraphQL's Int holds 32 bits.
    await fill(pair, ['a', 'b', 'c'], (n) => (n === 1 ? 3_000_000_000 : n + 1))
    await warm(pair, levels, { variables: { n: 1 } })
    await warm(pair, notes, { variables: { n: 1 } })
  })
  afterAll(() => pair.close())

  it('answers rows whose values graphql sends unchanged with the bytes of the normal path', async () => {
    const before = pair.compiled()
    const { fast, normal } = await pair.both(levels, { variables: { n: 1 } })
    expect(fast).toEqual(normal)
    expect(JSON.parse(fast.body)).toEqual({
      data: { tankLevelList: { nodes: [{ tankId: 't0', litres: 1, status: 'open' }] } },
    })
    expect(pair.compiled() - before).toBe(1)
  })

  it("answers an Int beyond 32 bits with graphql's error, as the normal path does", async () => {
    const before = pair.compiled()
    const { fast, normal } = await pair.both(levels, { variables: { n: 3 } })
    expect(fast).toEqual(normal)
    expect(firstError(fast.body)).toMatchObject({ path: ['tankLevelList', 'nodes', 1, 'litres'] })
    expect(JSON.parse(fast.body)).toMatchObject({ data: null })
    expect(pair.compiled() - before).toBe(1)
  })

  it('answers an optional field a row does not have as null, as the normal path does', async () => {
    const { fast, normal } = await pair.both(notes, { variables: { n: 2 } })
    expect(fast).toEqual(normal)
    expect(JSON.parse(fast.body)).toEqual({
      data: {
        tankLevelList: {
          nodes: [
            { tankId: 't0', note: null },
            { tankId: 't1', note: null },
          ],
        },
      },
    })
  })
})

describe('resolver errors on a compiled GET', () => {
  it('answers from the first run, so a rule is asked once per request and a wait is not repeated', async () => {
    let asked = 0
    const pair = await startPair({
      limits: { rateLimit: false },
      authorize: { commands: { fill: () => true }, queries: { tankLevel: () => (asked++, false) } },
    })
    try {
      await fill(pair, ['a'])
      await warm(pair, levels, { variables: { n: 1 } })
      const before = { asked, compiled: pair.compiled() }
      for (const _ of [1, 2, 3]) {
        const { fast, normal } = await pair.both(levels, { variables: { n: 1 } })
        expect(fast).toEqual(normal)
        expect(firstError(fast.body)?.extensions.code).toBe('UNAUTHENTICATED') // an anonymous caller the rule refuses
      }
      expect(pair.compiled() - before.compiled).toBe(3)
      expect(asked - before.asked).toBe(6) // once per request on each gateway
    } finally {
      await pair.close()
    }
  })
})
