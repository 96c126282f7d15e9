import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openEngine } from './open-engine.ts'
import type { Engine, ProposedEvent } from './engine.ts'
import { many, proposed, revisionsOf } from '../../test/devstore/engine-builders.fixture.ts'

let engine: Engine
let clock: number
beforeEach(async () => {
  clock = 1_700_000_000_000
  engine = await openEngine({ now: () => clock })
})
afterEach(() => engine.close())

function metadata(json: object): ProposedEvent {
  return proposed({ type: '$metadata', json })
}

describe('reading a stream', () => {
  it('says not found for a stream that does not exist', async () => {
    expect(await revisionsOf(engine, 'nobody')).toBe('not-found')
  })

  it('says not found for a stream that has only metadata', async () => {
    await engine.append('$$order-1', 'any', [metadata({ $maxCount: 2 })])
    expect(await revisionsOf(engine, 'order-1')).toBe('not-found')
  })

  it('reads forwards from a revision inclusive, up to maxCount', async () => {
    await engine.append('order-1', 'any', many(5))
    expect(await revisionsOf(engine, 'order-1', { fromRevision: 1n, maxCount: 2n })).toEqual([1n, 2n])
  })

  it('reads backwards from the end or from a revision inclusive', async () => {
    await engine.append('order-1', 'any', many(5))
    expect(await revisionsOf(engine, 'order-1', { direction: 'backwards', maxCount: 2n })).toEqual([4n, 3n])
    expect(await revisionsOf(engine, 'order-1', { direction: 'backwards', fromRevision: 1n })).toEqual([
      1n,
      0n,
    ])
  })

  it('reads nothing forwards from past the end', async () => {
    await engine.append('order-1', 'any', many(2))
    expect(await revisionsOf(engine, 'order-1', { fromRevision: 9n })).toEqual([])
    expect(await revisionsOf(engine, 'order-1', { fromRevision: 'end' })).toEqual([])
  })

  it('keeps the bytes, type, content type, id and created time of each event', async () => {
    const event = { ...proposed({ type: 'Shipped' }), contentType: 'application/octet-stream' as const }
    await engine.append('order-1', 'any', [event])
    const read = await engine.readStream('order-1', {
      direction: 'forwards',
      fromRevision: 'start',
      maxCount: 1,
    })
    const [stored] = read.kind === 'ok' ? [...read.events] : []
    expect(stored).toMatchObject({
      id: event.id,
      type: 'Shipped',
      contentType: 'application/octet-stream',
      created: clock,
    })
    expect(Buffer.from(stored!.data)).toEqual(Buffer.from(event.data))
    expect(Buffer.from(stored!.metadata)).toEqual(Buffer.from(event.metadata))
  })
})

describe('metadata rules at read time', () => {
  it('$maxCount shows only the newest events', async () => {
    await engine.append('order-1', 'any', many(5))
    await engine.append('$$order-1', 'any', [metadata({ $maxCount: 2 })])
    expect(await revisionsOf(engine, 'order-1')).toEqual([3n, 4n])
    expect(await revisionsOf(engine, 'order-1', { direction: 'backwards' })).toEqual([4n, 3n])
  })

  it('$tb hides the events before it', async () => {
    await engine.append('order-1', 'any', many(5))
    await engine.append('$$order-1', 'any', [metadata({ $tb: 3 })])
    expect(await revisionsOf(engine, 'order-1')).toEqual([3n, 4n])
    expect(await revisionsOf(engine, 'order-1', { direction: 'backwards', fromRevision: 'start' })).toEqual(
      [],
    )
  })

  it('$maxAge hides events older than that many seconds', async () => {
    await engine.append('order-1', 'any', many(2))
    clock += 10_000
    await engine.append('order-1', 'any', many(1))
    await engine.append('$$order-1', 'any', [metadata({ $maxAge: 5 })])
    expect(await revisionsOf(engine, 'order-1')).toEqual([2n])
  })

  it('the latest metadata event wins', async () => {
    await engine.append('order-1', 'any', many(5))
    await engine.append('$$order-1', 'any', [metadata({ $maxCount: 1 })])
    await engine.append('$$order-1', 'any', [metadata({ $maxCount: 3, custom: 'kept' })])
    expect(engine.getMetadata('order-1')).toEqual({ maxCount: 3n, raw: { $maxCount: 3, custom: 'kept' } })
    expect(await revisionsOf(engine, 'order-1')).toEqual([2n, 3n, 4n])
  })

  it('leaves $all untouched', async () => {
    await engine.append('order-1', 'any', many(5))
    await engine.append('$$order-1', 'any', [metadata({ $maxCount: 1 })])
    const all = [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 100 }))]
    expect(all.filter((event) => event.stream === 'order-1')).toHaveLength(5)
  })

  it('ignores metadata that is not a JSON object', async () => {
    await engine.append('order-1', 'any', many(2))
    await engine.append('$$order-1', 'any', [{ ...metadata({}), data: Buffer.from('not json') }])
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n])
  })
})
