import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openEngine } from './open-engine.ts'
import type { Engine } from './engine.ts'
import { many, proposed, revisionsOf } from '../../test/devstore/engine-builders.fixture.ts'

let engine: Engine
beforeEach(async () => {
  engine = await openEngine()
})
afterEach(() => engine.close())

describe('append with an expected revision', () => {
  it('creates a stream with no_stream and numbers its events from 0', async () => {
    const result = await engine.append('order-1', 'no_stream', many(3))
    expect(result).toMatchObject({ kind: 'ok', firstRevision: 0n, nextRevision: 2n })
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n, 2n])
  })

  it('replies with the position of the last event, which reading it back shows', async () => {
    const result = await engine.append('order-1', 'any', many(2))
    const [last] = (await revisionsOf(engine, 'order-1', {
      direction: 'backwards',
      maxCount: 1n,
    })) as bigint[]
    const read = await engine.readStream('order-1', {
      direction: 'backwards',
      fromRevision: 'end',
      maxCount: 1,
    })
    expect(last).toBe(1n)
    expect(read.kind === 'ok' && [...read.events][0]?.position).toBe(result.kind === 'ok' && result.position)
  })

  it('appends when the exact revision is the current one', async () => {
    await engine.append('order-1', 'no_stream', many(2))
    expect(await engine.append('order-1', 1n, many(1))).toMatchObject({
      kind: 'ok',
      firstRevision: 2n,
      nextRevision: 2n,
    })
  })

  it('refuses an exact revision ahead of the stream', async () => {
    await engine.append('order-1', 'no_stream', many(2))
    expect(await engine.append('order-1', 5n, many(1))).toEqual({
      kind: 'wrong-expected-version',
      currentRevision: 1n,
      expected: 5n,
    })
  })

  it('refuses an exact revision on a stream that does not exist, reporting no current revision', async () => {
    expect(await engine.append('order-1', 0n, many(1))).toEqual({
      kind: 'wrong-expected-version',
      currentRevision: undefined,
      expected: 0n,
    })
  })

  it('refuses no_stream on an existing stream when the ids differ', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    expect(await engine.append('order-1', 'no_stream', many(1))).toMatchObject({
      kind: 'wrong-expected-version',
      currentRevision: 0n,
    })
  })

  it('refuses stream_exists on a stream that does not exist', async () => {
    expect(await engine.append('order-1', 'stream_exists', many(1))).toMatchObject({
      kind: 'wrong-expected-version',
      currentRevision: undefined,
      expected: 'stream_exists',
    })
  })

  it('appends with stream_exists and any on an existing stream', async () => {
    await engine.append('order-1', 'any', many(1))
    expect(await engine.append('order-1', 'stream_exists', many(1))).toMatchObject({
      kind: 'ok',
      nextRevision: 1n,
    })
    expect(await engine.append('order-1', 'any', many(1))).toMatchObject({ kind: 'ok', nextRevision: 2n })
  })

  it('refuses an append whose data and metadata exceed the limit, writing nothing', async () => {
    const small = await openEngine({ maxAppendSize: 100 })
    expect(await small.append('order-1', 'any', [proposed({ bytes: 60 }), proposed({ bytes: 60 })])).toEqual({
      kind: 'too-big',
      max: 100,
    })
    expect(await revisionsOf(small, 'order-1')).toBe('not-found')
    await small.close()
  })

  it('keeps the default limit at 1,048,576 bytes', async () => {
    expect(await engine.append('big', 'any', [proposed({ bytes: 1_048_576 })])).toEqual({
      kind: 'too-big',
      max: 1_048_576,
    })
    expect(await engine.append('big', 'any', [proposed({ bytes: 1_000_000 })])).toMatchObject({ kind: 'ok' })
  })
})

describe('idempotent appends', () => {
  it('returns the original result for a repeated exact-revision append and writes nothing', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    const events = many(2)
    const original = await engine.append('order-1', 0n, events)
    const head = engine.headPosition()
    expect(await engine.append('order-1', 0n, events)).toEqual(original)
    expect(engine.headPosition()).toBe(head)
  })

  it('returns the original result for a repeated no_stream append', async () => {
    const events = many(3)
    const original = await engine.append('order-1', 'no_stream', events)
    expect(await engine.append('order-1', 'no_stream', events)).toEqual(original)
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n, 2n])
  })

  it('accepts a repeat of the first events after a revision as their original result', async () => {
    const events = many(3)
    await engine.append('order-1', 'no_stream', events)
    expect(await engine.append('order-1', 'no_stream', events.slice(0, 2))).toMatchObject({
      kind: 'ok',
      firstRevision: 0n,
      nextRevision: 1n,
    })
  })

  it('refuses an exact-revision repeat whose ids differ from the stored ones', async () => {
    const events = many(2)
    await engine.append('order-1', 'no_stream', events)
    expect(await engine.append('order-1', 'no_stream', [events[0]!, proposed()])).toMatchObject({
      kind: 'wrong-expected-version',
      currentRevision: 1n,
    })
  })

  it('returns the original result for a repeated any append of recently written ids', async () => {
    await engine.append('order-1', 'any', many(2))
    const events = many(2)
    const original = await engine.append('order-1', 'any', events)
    await engine.append('order-1', 'any', many(1))
    expect(await engine.append('order-1', 'any', events)).toEqual(original)
    expect(await engine.append('order-1', 'stream_exists', events)).toEqual(original)
  })

  it('refuses an any append when only its first id is known', async () => {
    const events = many(2)
    await engine.append('order-1', 'any', events)
    expect(await engine.append('order-1', 'any', [events[0]!, proposed()])).toMatchObject({
      kind: 'wrong-expected-version',
      expected: 'any',
    })
  })

  it('treats ids written to another stream as new', async () => {
    const events = many(1)
    await engine.append('order-1', 'any', events)
    expect(await engine.append('order-2', 'any', events)).toMatchObject({ kind: 'ok', firstRevision: 0n })
  })
})

describe('concurrent appends', () => {
  it('decides each against the ones before it, in call order', async () => {
    const results = await Promise.all([
      engine.append('order-1', 'no_stream', many(1)),
      engine.append('order-1', 'no_stream', many(1)),
      engine.append('order-1', 0n, many(1)),
    ])
    expect(results.map((result) => result.kind)).toEqual(['ok', 'wrong-expected-version', 'ok'])
  })
})
