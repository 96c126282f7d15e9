import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { LOG_FILE } from './open-engine.ts'
import { openEngine } from './open-engine.ts'
import type { Engine, StoredEvent } from './engine.ts'
import { DamagedRecordError, DataCorruptError } from './engine-errors.ts'
import { CHECKPOINT_FILE } from './index-checkpoint.ts'
import { many, proposed, readAllOf, tempDir } from '../../test/devstore/engine-builders.fixture.ts'

// What the client cannot see of the checks (test/devstore/damaged-records.test.ts drives the rest): a
// damaged length, a record larger than a read page, and the open-time rule for every byte of the part of
// the log the index checkpoint covers.

const dirs: { remove: () => void }[] = []
const engines: Engine[] = []

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close()
  for (const dir of dirs.splice(0)) dir.remove()
})

/** A closed, checkpointed log: commits of one to three events over three streams; every record's position. */
async function writtenLog(commits = 12): Promise<{ dataDir: string; positions: number[] }> {
  const dir = tempDir()
  dirs.push(dir)
  const engine = await openEngine({ dataDir: dir.path })
  for (let i = 0; i < commits; i++) await engine.append(`s-${i % 3}`, 'any', many(1 + (i % 3)))
  const all = [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 10_000 }))]
  await engine.close()
  return { dataDir: dir.path, positions: all.map((event) => Number(event.position)) }
}

/** An engine that caches nothing, so every read goes to the file. */
async function uncached(dataDir: string): Promise<{ engine: Engine; logged: string[] }> {
  const logged: string[] = []
  const engine = await openEngine({ dataDir, cacheBytes: 0, log: (message) => logged.push(message) })
  engines.push(engine)
  return { engine, logged }
}

function patch(dataDir: string, offset: number, change: (byte: number) => number[]): void {
  const fd = openSync(join(dataDir, LOG_FILE), 'r+')
  try {
    const byte = Buffer.alloc(1)
    readSync(fd, byte, 0, 1, offset)
    writeSync(fd, Buffer.from(change(byte[0] ?? 0)), 0, undefined, offset)
  } finally {
    closeSync(fd)
  }
}

async function failureOf(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => expect.fail('expected the read to fail'),
    (error: unknown) => error,
  )
}

async function drainAll(engine: Engine): Promise<StoredEvent[]> {
  const events: StoredEvent[] = []
  for await (const event of engine.readAllFrom('start')) events.push(event)
  return events
}

describe('reading a record damaged on disk', () => {
  it('fails with DamagedRecordError, not a decoding error, when its length field is damaged', async () => {
    const { dataDir, positions } = await writtenLog()
    const { engine, logged } = await uncached(dataDir)
    // The last commit: three events to s-2; the middle one's length field now says about 2 GiB.
    const bad = positions.at(-2) ?? 0
    patch(dataDir, bad + 3, () => [0x7f])
    const read = await failureOf(() => readAllOf(engine, 's-2', { direction: 'backwards' }))
    const expected = { code: 'DATA_CORRUPT', file: join(dataDir, LOG_FILE), badOffset: bad }
    expect(read).toBeInstanceOf(DamagedRecordError)
    expect(read).toMatchObject(expected)
    expect(await failureOf(() => drainAll(engine))).toMatchObject(expected)
    expect(logged.filter((line) => line.includes('DATA_CORRUPT'))).toHaveLength(1)
  })

  it('fails on a damaged record larger than a read page, after the events before it', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const writer = await openEngine({ dataDir: dir.path })
    const before = await writer.append('small', 'any', many(2))
    const big = await writer.append('big', 'any', [proposed({ bytes: 600 * 1024 })])
    await writer.close()
    if (before.kind !== 'ok' || big.kind !== 'ok') throw new Error('the appends failed')
    const { engine } = await uncached(dir.path)
    patch(dir.path, Number(big.position) + 300 * 1024, (byte) => [byte ^ 0x10])
    const events: StoredEvent[] = []
    const error = await failureOf(async () => {
      for await (const event of engine.readAllFrom('start')) events.push(event)
    })
    expect(error).toMatchObject({ code: 'DATA_CORRUPT', badOffset: Number(big.position) })
    expect(events.at(-1)?.position).toBe(before.position)
    expect(await failureOf(() => readAllOf(engine, 'big'))).toBeInstanceOf(DamagedRecordError)
  })
})

describe('opening a log damaged inside the part the index checkpoint covers', () => {
  /** Damages one byte of a copy of `original` (with its checkpoint) and expects the open to refuse. */
  async function refusesWithByteDamaged(
    dataDir: string,
    original: Buffer,
    checkpoint: Buffer,
    positions: number[],
    offset: number,
    mask: number,
  ): Promise<void> {
    restore(dataDir, LOG_FILE, original)
    restore(dataDir, CHECKPOINT_FILE, checkpoint)
    patch(dataDir, offset, (byte) => [byte ^ mask])
    const bad = positions.findLast((position) => position <= offset) ?? 0
    // Damage in the last record it covers names the end of the covered part as where valid bytes resume.
    const next = positions.find((position) => position > offset) ?? original.length
    const error = await openEngine({ dataDir }).then(
      async (engine) => (await engine.close(), expect.fail(`opened with byte ${offset} damaged`)),
      (rejection: unknown) => rejection,
    )
    expect(error).toBeInstanceOf(DataCorruptError)
    expect(error).toMatchObject({ file: join(dataDir, LOG_FILE), badOffset: bad, nextValidOffset: next })
    expect(readFileSync(join(dataDir, LOG_FILE)).equals(withByte(original, offset, mask))).toBe(true)
    expect(readFileSync(join(dataDir, CHECKPOINT_FILE)).equals(checkpoint)).toBe(true)
  }

  it('refuses with DataCorruptError naming the damaged record and the next, whichever byte of it changed', async () => {
    const { dataDir, positions } = await writtenLog()
    const original = readFileSync(join(dataDir, LOG_FILE))
    const checkpoint = readFileSync(join(dataDir, CHECKPOINT_FILE))
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: original.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (offset, mask) => refusesWithByteDamaged(dataDir, original, checkpoint, positions, offset, mask),
      ),
      { numRuns: 40 },
    )
  })

  // No exception for the last record it covers: the log is synced at open before any checkpoint is written
  // (index-checkpoint.ts), so a checkpoint covers only durable bytes and damage there is not a torn write.
  it('refuses the same way when the damaged byte is in the last record it covers, its checksum field included', async () => {
    const { dataDir, positions } = await writtenLog()
    const original = readFileSync(join(dataDir, LOG_FILE))
    const checkpoint = readFileSync(join(dataDir, CHECKPOINT_FILE))
    const lastCovered = positions.at(-1) ?? 0
    const checksumField = [4, 5, 6, 7].map((at) => lastCovered + at)
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: lastCovered, max: original.length - 1 }),
          fc.constantFrom(...checksumField),
        ),
        fc.integer({ min: 1, max: 255 }),
        (offset, mask) => refusesWithByteDamaged(dataDir, original, checkpoint, positions, offset, mask),
      ),
      { numRuns: 30 },
    )
  })

  // A checkpoint written before the log was synced at open (version 2) may cover bytes never synced: it is
  // ignored, and the whole log is scanned with the torn-tail rule.
  it('ignores a checkpoint of the previous version, so damage in its last record is cut as a torn tail', async () => {
    const commits = 12
    const { dataDir, positions } = await writtenLog(commits)
    const original = readFileSync(join(dataDir, LOG_FILE))
    const lastAppend = positions.at(-(1 + ((commits - 1) % 3))) ?? 0
    restore(dataDir, CHECKPOINT_FILE, asVersion(readFileSync(join(dataDir, CHECKPOINT_FILE)), 2))
    patch(dataDir, positions.at(-1) ?? 0, (byte) => [byte ^ 0x01])
    const { engine, logged } = await uncached(dataDir)
    expect(logged).toEqual([
      'devstore: the index checkpoint does not match the log; scanning the whole log',
      `devstore: cut ${original.length - lastAppend} bytes of torn tail at offset ${lastAppend}`,
    ])
    const read = await drainAll(engine)
    expect(read.map((event) => Number(event.position))).toEqual(
      positions.filter((position) => position < lastAppend),
    )
  })
})

/** The checkpoint with its version field set to `version`, its own checksum made valid again. */
function asVersion(checkpoint: Buffer, version: number): Buffer {
  const copy = Buffer.from(checkpoint)
  copy.writeUInt32LE(version, 4)
  copy.writeUInt32LE(crc32(copy.subarray(0, copy.length - 4)), copy.length - 4)
  return copy
}

function withByte(bytes: Buffer, offset: number, mask: number): Buffer {
  const copy = Buffer.from(bytes)
  copy[offset] = (copy[offset] ?? 0) ^ mask
  return copy
}

function restore(dataDir: string, file: string, bytes: Buffer): void {
  const fd = openSync(join(dataDir, file), 'w')
  try {
    writeSync(fd, bytes)
  } finally {
    closeSync(fd)
  }
}
