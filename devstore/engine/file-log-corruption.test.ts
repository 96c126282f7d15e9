import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Engine } from './engine.ts'
import { checkpointFile, logFile, messages, restart, start } from '../../test/devstore/file-log.fixture.ts'
import { many, proposed, revisionsOf } from '../../test/devstore/engine-builders.fixture.ts'

// A damaged record with valid commits after it is corruption, not a torn write: the open is refused and the
// log left as it is. A damaged last commit with nothing valid after it is still a torn tail, and cut.

describe('recovery from a record damaged in the middle of the log', () => {
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
