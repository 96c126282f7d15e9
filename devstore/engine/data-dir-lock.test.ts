import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LOCK_FILE } from './data-dir-lock.ts'
import { DataDirLockedError } from './engine-errors.ts'
import { openEngine } from './open-engine.ts'
import { tempDir } from '../../test/devstore/engine-builders.fixture.ts'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

describe('the data directory lock', () => {
  it('refuses a second engine on the same directory while the first is open', async () => {
    const first = await openEngine({ dataDir: dir.path })
    await expect(openEngine({ dataDir: dir.path })).rejects.toThrow(DataDirLockedError)
    await first.close()
  })

  it('is released on close, so the directory can be opened again', async () => {
    const first = await openEngine({ dataDir: dir.path })
    await first.close()
    expect(existsSync(join(dir.path, LOCK_FILE))).toBe(false)
    const second = await openEngine({ dataDir: dir.path })
    await second.close()
  })

  it('takes over a stale lock whose process is dead, and says so', async () => {
    const dead = spawnSync('true').pid
    writeFileSync(join(dir.path, LOCK_FILE), `${dead}\n`)
    const messages: string[] = []
    const engine = await openEngine({ dataDir: dir.path, log: (message) => messages.push(message) })
    expect(messages).toEqual([expect.stringContaining(`stale lock of process ${dead}`)])
    await engine.close()
  })

  it('refuses a lock held by another live process', async () => {
    writeFileSync(join(dir.path, LOCK_FILE), `${process.ppid}\n`)
    await expect(openEngine({ dataDir: dir.path })).rejects.toMatchObject({
      code: 'DATA_DIR_LOCKED',
      pid: process.ppid,
    })
  })
})
