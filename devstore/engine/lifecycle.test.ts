import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EngineClosedError } from './engine-errors.ts'
import { openEngine } from './open-engine.ts'
import { many, revisionsOf, tempDir } from '../../test/devstore/engine-builders.fixture.ts'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

describe('closing the engine', () => {
  it('lets in-flight appends finish durably first', async () => {
    const engine = await openEngine({ dataDir: dir.path })
    const appending = Promise.all([engine.append('a', 'any', many(1)), engine.append('b', 'any', many(2))])
    await engine.close()
    expect((await appending).map((result) => result.kind)).toEqual(['ok', 'ok'])
    const reopened = await openEngine({ dataDir: dir.path })
    expect(await revisionsOf(reopened, 'b')).toEqual([0n, 1n])
    await reopened.close()
  })

  it('rejects every later call with EngineClosedError', async () => {
    const engine = await openEngine()
    await engine.close()
    await expect(engine.append('a', 'any', many(1))).rejects.toThrow(EngineClosedError)
    await expect(
      engine.readStream('a', { direction: 'forwards', fromRevision: 'start', maxCount: 1 }),
    ).rejects.toThrow(EngineClosedError)
    await expect(engine.readAll({ direction: 'forwards', from: 'start', maxCount: 1 })).rejects.toThrow(
      EngineClosedError,
    )
    await expect(engine.softDelete('a', 'any')).rejects.toThrow(EngineClosedError)
    await expect(engine.tombstone('a', 'any')).rejects.toThrow(EngineClosedError)
  })

  it('fails a lazy read consumed after close instead of reading a reused file descriptor', async () => {
    const engine = await openEngine({ dataDir: dir.path, cacheBytes: 0 })
    await engine.append('a', 'any', many(3))
    const events = await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 10 })
    await engine.close()
    expect(() => [...events]).toThrow(EngineClosedError)
  })

  it('ends a paging readAllFrom with EngineClosedError', async () => {
    const engine = await openEngine()
    await engine.append('a', 'any', many(10))
    const pages = engine.readAllFrom('start', { pageSize: 2 })[Symbol.asyncIterator]()
    await pages.next()
    await engine.close()
    await expect(
      (async () => {
        for (;;) if ((await pages.next()).done === true) return
      })(),
    ).rejects.toThrow(EngineClosedError)
  })
})
