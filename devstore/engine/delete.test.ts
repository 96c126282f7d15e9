import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openEngine } from './open-engine.ts'
import { DELETED_REVISION, type Engine } from './engine.ts'
import { many, readAllOf, revisionsOf, text } from '../../test/devstore/engine-builders.fixture.ts'

let engine: Engine
beforeEach(async () => {
  engine = await openEngine()
})
afterEach(() => engine.close())

describe('soft delete', () => {
  it('writes {"$tb": int64 max} to the metadata stream and makes the stream read as not found', async () => {
    await engine.append('order-1', 'no_stream', many(2))
    expect(await engine.softDelete('order-1', 1n)).toMatchObject({ kind: 'ok' })
    const metadata = (await readAllOf(engine, '$$order-1', { direction: 'backwards', maxCount: 1n })) as {
      data: Uint8Array
      type: string
    }[]
    expect(metadata.map((event) => [event.type, text(event.data)])).toEqual([
      ['$metadata', '{"$tb":9223372036854775807}'],
    ])
    expect(engine.getMetadata('order-1')?.truncateBefore).toBe(DELETED_REVISION)
    expect(await revisionsOf(engine, 'order-1')).toBe('not-found')
  })

  it('replies with the position of the $metadata event', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    const result = await engine.softDelete('order-1', 'any')
    const [metadata] = (await readAllOf(engine, '$$order-1')) as { position: bigint }[]
    expect(result).toEqual({ kind: 'ok', position: metadata?.position })
  })

  it('is a wrong expected version on a stream that never existed', async () => {
    expect(await engine.softDelete('order-1', 'any')).toEqual({
      kind: 'wrong-expected-version',
      currentRevision: undefined,
      expected: 'any',
    })
  })

  it('is a wrong expected version when the revision differs', async () => {
    await engine.append('order-1', 'no_stream', many(2))
    expect(await engine.softDelete('order-1', 0n)).toMatchObject({
      kind: 'wrong-expected-version',
      currentRevision: 1n,
    })
  })

  it('lets a later append continue the revisions, the stream showing only the new events', async () => {
    await engine.append('order-1', 'no_stream', many(2))
    await engine.softDelete('order-1', 'any')
    expect(await engine.append('order-1', 'any', many(2))).toMatchObject({
      kind: 'ok',
      firstRevision: 2n,
      nextRevision: 3n,
    })
    expect(await revisionsOf(engine, 'order-1')).toEqual([2n, 3n])
    expect(engine.getMetadata('order-1')?.truncateBefore).toBe(2n)
  })

  it('accepts no_stream on a soft-deleted stream', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    await engine.softDelete('order-1', 'any')
    expect(await engine.append('order-1', 'no_stream', many(1))).toMatchObject({
      kind: 'ok',
      firstRevision: 1n,
    })
  })

  it('keeps the deleted events in $all', async () => {
    const appended = await engine.append('order-1', 'no_stream', many(1))
    await engine.softDelete('order-1', 'any')
    const all = [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 100 }))]
    expect(all.some((event) => appended.kind === 'ok' && event.position === appended.position)).toBe(true)
  })
})

describe('tombstone', () => {
  it('appends $streamDeleted at revision int64 max, visible in $all', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    const result = await engine.tombstone('order-1', 0n)
    const [last] = [...(await engine.readAll({ direction: 'backwards', from: 'end', maxCount: 1 }))]
    expect(last).toMatchObject({ stream: 'order-1', type: '$streamDeleted', revision: DELETED_REVISION })
    expect(result).toEqual({ kind: 'ok', position: last?.position })
  })

  it('succeeds on a stream that never existed', async () => {
    expect(await engine.tombstone('order-1', 'no_stream')).toMatchObject({ kind: 'ok' })
    expect(await revisionsOf(engine, 'order-1')).toBe('deleted')
  })

  it('is a wrong expected version when the revision differs', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    expect(await engine.tombstone('order-1', 'no_stream')).toMatchObject({
      kind: 'wrong-expected-version',
      currentRevision: 0n,
    })
  })

  it('makes reads, appends, deletes and tombstones fail with stream-deleted', async () => {
    await engine.append('order-1', 'no_stream', many(1))
    await engine.tombstone('order-1', 'any')
    expect(
      await engine.readStream('order-1', { direction: 'forwards', fromRevision: 'start', maxCount: 1 }),
    ).toEqual({
      kind: 'deleted',
    })
    expect(await engine.append('order-1', 'any', many(1))).toEqual({ kind: 'stream-deleted' })
    expect(await engine.softDelete('order-1', 'any')).toEqual({ kind: 'stream-deleted' })
    expect(await engine.tombstone('order-1', 'any')).toEqual({ kind: 'stream-deleted' })
    expect(engine.streamRevision('order-1')).toBe(DELETED_REVISION)
  })

  it('deletes the metadata stream with it', async () => {
    await engine.append('$$order-1', 'any', [
      { ...many(1)[0]!, type: '$metadata', data: Buffer.from('{"$maxCount":5}') },
    ])
    await engine.tombstone('order-1', 'any')
    expect(await engine.append('$$order-1', 'any', many(1))).toEqual({ kind: 'stream-deleted' })
    expect(await revisionsOf(engine, '$$order-1')).toBe('deleted')
    expect(engine.getMetadata('order-1')).toBeUndefined()
  })
})
