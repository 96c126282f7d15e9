/**
 * One server per data directory: a lock file created with O_EXCL holds the owner's pid. A lock whose pid is
 * no longer alive (a server killed with SIGKILL) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { DataDirLockedError } from './engine-errors.ts'

export const LOCK_FILE = 'devstore.lock'

/** Takes the lock or throws DataDirLockedError; returns the release function. */
export function lockDataDir(dataDir: string, log: (message: string) => void): () => void {
  const path = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => releaseLock(path)
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error
    }
    const owner = readOwner(path)
    if (owner !== undefined && isAlive(owner)) throw new DataDirLockedError(dataDir, owner)
    log(`devstore: taking over the stale lock of process ${owner ?? 'unknown'} in ${dataDir}`)
    try {
      unlinkSync(path)
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error
    }
  }
  throw new DataDirLockedError(dataDir, readOwner(path) ?? -1)
}

function releaseLock(path: string): void {
  try {
    if (readOwner(path) === process.pid) unlinkSync(path)
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return isCode(error, 'EPERM')
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code
}
