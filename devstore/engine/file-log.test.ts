import {
  appendFileSync,
  existsSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LOG_FILE } from './create-engine.ts'
import { CHECKPOINT_FILE } from './index-checkpoint.ts'
import { DELETED_REVISION, openEngine, type Engine, type EngineOptions } from './engine.ts'
import { many, proposed, readAllOf, revisionsOf } from './test-builders.ts'
import { tempDir } from './test-builders.ts'

let dir: ReturnType<typeof tempDir>
let messages: string[]
const open: Engine[] = []

beforeEach(() => {
  dir = tempDir()
  messages = []
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((engine) => engine.close()))
  dir.remove()
})

async function start(options: Partial<EngineOptions> = {}): Promise<Engine> {
  const engine = await openEngine({ dataDir: dir.path, log: (message) => messages.push(message), ...options })
  open.push(engine)
  return engine
}

async function restart(engine: Engine): Promise<Engine> {
  await engine.close()
  return start()
}

const logFile = () => join(dir.path, LOG_FILE)

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
    rmSync(join(dir.path, CHECKPOINT_FILE))
    const { openSync, writeSync, closeSync } = await import('node:fs')
    const fd = openSync(logFile(), 'r+')
    writeSync(fd, Buffer.from('zz'), 0, 2, statSync(logFile()).size - 20)
    closeSync(fd)
    engine = await start()
    expect(messages).toContainEqual(expect.stringMatching(`torn tail at offset ${sizeBefore}$`))
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n])
  })
})

describe('recovery from a record damaged in the middle of the log', () => {
  const checkpointFile = () => join(dir.path, CHECKPOINT_FILE)

  // Three single-event appends; returns the position (record offset) of each.
  async function threeAppends(engine: Engine): Promise<number[]> {
    const positions: number[] = []
    for (let i = 0; i < 3; i++) {
      const result = await engine.append('order-1', 'any', [proposed({ bytes: 100 })])
      if (result.kind !== 'ok') throw new Error(`append ${i} failed: ${result.kind}`)
      positions.push(Number(result.position))
    }
    return positions
  }

  function flipByte(offset: number): Buffer {
    const bytes = readFileSync(logFile())
    bytes[offset] = (bytes[offset] ?? 0) ^ 0x01
    writeFileSync(logFile(), bytes)
    return bytes
  }

  async function expectCorrupt(bad: number, next: number, unchanged: Buffer): Promise<void> {
    const error: unknown = await start().then(
      () => undefined,
      (rejection: unknown) => rejection,
    )
    expect(error).toMatchObject({
      name: 'DataCorruptError',
      code: 'DATA_CORRUPT',
      file: logFile(),
      badOffset: bad,
      nextValidOffset: next,
    })
    expect((error as Error).message).toBe(
      `The devstore log ${logFile()} has a damaged record at offset ${bad} followed by valid records ` +
        `from offset ${next}; it is corrupt, not torn, so nothing was cut or changed`,
    )
    expect(readFileSync(logFile()).equals(unchanged)).toBe(true)
    expect(messages.filter((message) => message.includes('torn tail'))).toEqual([])
  }

  it('refuses to open, changing nothing, when a flipped byte is followed by valid commits', async () => {
    const engine = await start()
    const [, middle = 0, last = 0] = await threeAppends(engine)
    await engine.close()
    rmSync(checkpointFile())
    const corrupted = flipByte(middle + 60)
    await expectCorrupt(middle, last, corrupted)
    // The lock was released: a second attempt fails the same way, not with DATA_DIR_LOCKED.
    await expectCorrupt(middle, last, corrupted)
  })

  it('refuses to open when the damage is in a record length', async () => {
    const engine = await start()
    const [, middle = 0, last = 0] = await threeAppends(engine)
    await engine.close()
    rmSync(checkpointFile())
    const corrupted = flipByte(middle + 2)
    await expectCorrupt(middle, last, corrupted)
  })

  it('is not hidden by an index checkpoint taken before the damaged record', async () => {
    let engine = await start()
    await engine.append('order-0', 'any', many(1))
    engine = await restart(engine)
    const older = readFileSync(checkpointFile())
    const [first = 0, second = 0] = await threeAppends(engine)
    await engine.close()
    writeFileSync(checkpointFile(), older)
    const corrupted = flipByte(first + 60)
    await expectCorrupt(first, second, corrupted)
  })

  it('still cuts a damaged last commit when only garbage follows it', async () => {
    const engine = await start()
    const [, , last = 0] = await threeAppends(engine)
    await engine.close()
    rmSync(checkpointFile())
    flipByte(last + 60)
    appendFileSync(logFile(), Buffer.alloc(4096))
    appendFileSync(logFile(), Buffer.from('garbage that is not a record at all'))
    const size = statSync(logFile()).size
    const reopened = await start()
    expect(messages).toContain(`devstore: cut ${size - last} bytes of torn tail at offset ${last}`)
    expect(statSync(logFile()).size).toBe(last)
    expect(await revisionsOf(reopened, 'order-1')).toEqual([0n, 1n])
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
    rmSync(join(dir.path, CHECKPOINT_FILE))
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

describe('the index checkpoint', () => {
  const checkpointFile = () => join(dir.path, CHECKPOINT_FILE)

  it('is written on close and gives the same index as a full scan', async () => {
    let engine = await start()
    await engine.append('order-1', 'no_stream', many(3))
    await engine.tombstone('order-2', 'any')
    engine = await restart(engine)
    expect(existsSync(checkpointFile())).toBe(true)
    const fromCheckpoint = [
      await revisionsOf(engine, 'order-1'),
      await revisionsOf(engine, 'order-2'),
      engine.headPosition(),
    ]
    await engine.close()
    rmSync(checkpointFile())
    engine = await start()
    expect([
      await revisionsOf(engine, 'order-1'),
      await revisionsOf(engine, 'order-2'),
      engine.headPosition(),
    ]).toEqual(fromCheckpoint)
  })

  it('is completed by scanning the log written after it (a crash before the next checkpoint)', async () => {
    let engine = await start()
    await engine.append('order-1', 'no_stream', many(1))
    engine = await restart(engine)
    const older = readFileSync(checkpointFile())
    await engine.append('order-1', 0n, many(1))
    await engine.append('order-2', 'no_stream', many(1))
    await engine.close()
    writeFileSync(checkpointFile(), older)
    engine = await start()
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n])
    expect(await engine.append('order-2', 0n, many(1))).toMatchObject({ kind: 'ok', nextRevision: 1n })
    expect(messages).toEqual([])
  })

  // The same appends in another data directory give a log with records of the same lengths at the same
  // positions but other ids: its last record is whole with another checksum, so the checkpoint is not this
  // log's (rather than this log's with its last record damaged, which refuses the open).
  it("is ignored, with a message, when it is another log's", async () => {
    const other = tempDir()
    try {
      const writeLog = async (dataDir: string) => {
        const engine = await openEngine({ dataDir })
        await engine.append('order-1', 'no_stream', many(2))
        await engine.close()
      }
      await writeLog(other.path)
      await writeLog(dir.path)
      expect(statSync(join(other.path, LOG_FILE)).size).toBe(statSync(logFile()).size)
      writeFileSync(checkpointFile(), readFileSync(join(other.path, CHECKPOINT_FILE)))
      const engine = await start()
      expect(messages).toEqual([
        'devstore: the index checkpoint does not match the log; scanning the whole log',
      ])
      expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n])
    } finally {
      other.remove()
    }
  })

  it('is ignored, with a message, when damaged', async () => {
    let engine = await start()
    await engine.append('order-1', 'no_stream', many(2))
    await engine.close()
    const damaged = readFileSync(checkpointFile())
    damaged[40] = (damaged[40] ?? 0) ^ 0xff
    writeFileSync(checkpointFile(), damaged)
    engine = await start()
    expect(messages).toEqual([
      'devstore: the index checkpoint does not match the log; scanning the whole log',
    ])
    expect(await revisionsOf(engine, 'order-1')).toEqual([0n, 1n])
  })
})
