import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOG_FILE } from './open-engine.ts'
import { openEngine } from './open-engine.ts'
import { CHECKPOINT_FILE } from './index-checkpoint.ts'
import {
  checkpointFile,
  dataDir,
  logFile,
  messages,
  restart,
  start,
} from '../../test/devstore/file-log.fixture.ts'
import { many, revisionsOf, tempDir } from '../../test/devstore/engine-builders.fixture.ts'

// A restart reads the index from its checkpoint and scans only the log after it; a checkpoint that does not
// match the log is ignored for a full scan.

describe('the index checkpoint', () => {
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
      await writeLog(dataDir())
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
