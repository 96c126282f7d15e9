import { statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DELETED_REVISION } from './engine.ts'
import { logFile, restart, start } from '../../test/devstore/file-log.fixture.ts'
import { many, proposed, readAllOf, revisionsOf } from '../../test/devstore/engine-builders.fixture.ts'

// What a file-backed engine keeps across a restart, and when it acknowledges an append. What it does with a
// log a crash or a bad disk left behind: file-log-torn-tail.test.ts, file-log-corruption.test.ts.

describe('the file log', () => {
  it('keeps streams, metadata, deletes and positions across a restart', async () => {
    let engine = await start()
    const appended = await engine.append('order-1', 'no_stream', many(3))
    await engine.append('$$order-1', 'any', [proposed({ type: '$metadata', json: { $maxCount: 2 } })])
    await engine.append('order-2', 'any', many(1))
    await engine.softDelete('order-2', 'any')
    await engine.tombstone('order-3', 'any')
    const before = [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 100 }))]
    engine = await restart(engine)
    expect(await revisionsOf(engine, 'order-1')).toEqual([1n, 2n])
    expect(await revisionsOf(engine, 'order-2')).toBe('not-found')
    expect(await revisionsOf(engine, 'order-3')).toBe('deleted')
    expect(engine.streamRevision('order-3')).toBe(DELETED_REVISION)
    expect([...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 100 }))]).toEqual(
      before,
    )
    expect(
      appended.kind === 'ok' &&
        (await engine.readAll({ direction: 'forwards', from: appended.position, maxCount: 1 })),
    ).toBeTruthy()
  })

  it('writes the system events once, on creation', async () => {
    let engine = await start()
    const head = engine.headPosition()
    engine = await restart(engine)
    expect(engine.headPosition()).toBe(head)
  })

  it('recognises a repeated append after a restart', async () => {
    let engine = await start()
    const events = many(2)
    const original = await engine.append('order-1', 'no_stream', events)
    engine = await restart(engine)
    expect(await engine.append('order-1', 'no_stream', events)).toEqual(original)
    expect(await engine.append('order-1', 'any', events)).toEqual(original)
  })

  it('continues appending at the end after a restart', async () => {
    let engine = await start()
    await engine.append('order-1', 'no_stream', many(1))
    engine = await restart(engine)
    expect(await engine.append('order-1', 0n, many(1))).toMatchObject({ kind: 'ok', nextRevision: 1n })
    engine = await restart(engine)
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n])
  })

  it('serves events larger than a read page and beyond the cache', async () => {
    let engine = await start({ cacheBytes: 1024 })
    await engine.append('big', 'any', [proposed({ bytes: 600_000 }), proposed({ bytes: 300_000 })])
    engine = await restart(engine)
    const events = (await readAllOf(engine, 'big')) as { data: Uint8Array }[]
    expect(events.map((event) => event.data.length)).toEqual([600_000, 300_000])
    const all = [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 100 }))]
    expect(all.filter((event) => event.stream === 'big')).toHaveLength(2)
  })
})

describe('group commit', () => {
  it('shares fsyncs between concurrent appends', async () => {
    const engine = await start()
    const before = engine.stats()
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => engine.append(`s-${i % 5}`, 'any', many(1))),
    )
    const after = engine.stats()
    expect(results.every((result) => result.kind === 'ok')).toBe(true)
    expect(after.commits - before.commits).toBe(50)
    expect(after.fsyncs - before.fsyncs).toBeLessThan(50)
    expect(after.fsyncs - before.fsyncs).toBeGreaterThan(0)
  })

  it('acknowledges each append once it is on disk', async () => {
    const engine = await start()
    const result = await engine.append('order-1', 'any', many(1))
    const fsyncs = engine.stats().fsyncs
    expect(result.kind === 'ok' && statSync(logFile()).size).toBeGreaterThan(
      Number(result.kind === 'ok' && result.position),
    )
    expect(fsyncs).toBeGreaterThan(0)
  })
})
