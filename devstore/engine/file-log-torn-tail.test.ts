import { appendFileSync, rmSync, statSync, truncateSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkpointFile, logFile, messages, restart, start } from '../../test/devstore/file-log.fixture.ts'
import { many, proposed, revisionsOf } from '../../test/devstore/engine-builders.fixture.ts'

// Opening a log whose last writes a crash cut short: the torn tail is cut, with a message, and what the
// engine starts with is synced once before anything is served.

describe('recovery from a torn tail', () => {
  it('cuts a half-written record and logs the cut', async () => {
    let engine = await start()
    await engine.append('order-1', 'any', many(1))
    await engine.append('order-1', 'any', many(1))
    await engine.close()
    const size = statSync(logFile()).size
    truncateSync(logFile(), size - 5)
    engine = await start()
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n])
    expect(
      messages.some((message) => /^devstore: cut \d+ bytes of torn tail at offset \d+$/.test(message)),
    ).toBe(true)
    expect(await engine.append('order-1', 0n, many(1))).toMatchObject({ kind: 'ok', nextRevision: 1n })
    engine = await restart(engine)
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n])
  })

  it('cuts garbage after the last record', async () => {
    let engine = await start()
    await engine.append('order-1', 'any', many(1))
    await engine.close()
    const size = statSync(logFile()).size
    appendFileSync(logFile(), Buffer.from('garbage that is not a record at all'))
    engine = await start()
    expect(messages).toContain(`devstore: cut 35 bytes of torn tail at offset ${size}`)
    expect(statSync(logFile()).size).toBe(size)
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n])
  })

  it('drops a whole append when only part of it reached the disk', async () => {
    let engine = await start()
    await engine.append('order-1', 'any', many(1))
    const sizeBefore = statSync(logFile()).size
    await engine.append('order-1', 'any', many(3))
    await engine.close()
    truncateSync(logFile(), statSync(logFile()).size - 10)
    engine = await start()
    expect(messages).toContainEqual(expect.stringMatching(`torn tail at offset ${sizeBefore}$`))
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n])
  })

  // Past the part an index checkpoint covers (here: none, as after a kill), damage in the last append looks
  // like a torn write; under a checkpoint it refuses the open (damaged-record.test.ts).
  it('cuts the last append, past any checkpoint, when its bytes were damaged', async () => {
    let engine = await start()
    await engine.append('order-1', 'any', many(1))
    const sizeBefore = statSync(logFile()).size
    await engine.append('order-1', 'any', [proposed({ bytes: 100 })])
    await engine.close()
    rmSync(checkpointFile())
    const { openSync, writeSync, closeSync } = await import('node:fs')
    const fd = openSync(logFile(), 'r+')
    writeSync(fd, Buffer.from('zz'), 0, 2, statSync(logFile()).size - 20)
    closeSync(fd)
    engine = await start()
    expect(messages).toContainEqual(expect.stringMatching(`torn tail at offset ${sizeBefore}$`))
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n])
  })
})

describe('opening an existing log', () => {
  // A killed process may have written records it never synced; this one reads them back whole. They must be
  // durable before they are served or an index checkpoint covers them (index-checkpoint.ts relies on it).
  it('syncs the log once before it serves anything, with or without an index checkpoint', async () => {
    let engine = await start()
    await engine.append('order-1', 'no_stream', many(3))
    engine = await restart(engine)
    expect(engine.stats().fsyncs).toBe(1)
    await engine.close()
    rmSync(checkpointFile())
    engine = await start()
    expect(engine.stats().fsyncs).toBe(1)
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n, 2n])
    expect(engine.stats().fsyncs).toBe(1)
  })

  it('syncs once after cutting a torn tail too', async () => {
    const engine = await start()
    await engine.append('order-1', 'no_stream', many(2))
    await engine.close()
    appendFileSync(logFile(), Buffer.from('garbage that is not a record at all'))
    const reopened = await start()
    expect(messages.some((message) => message.includes('bytes of torn tail'))).toBe(true)
    expect(reopened.stats().fsyncs).toBe(1)
  })
})
