/**
 * Where the log's bytes live: a file (fsynced) or memory. Records are queued with `write` and reach the
 * disk together on the next `sync`, which is what lets concurrent appends share one fsync.
 */
import * as nodeFs from 'node:fs'
import { dirname } from 'node:path'
import { EngineClosedError } from './engine-errors.ts'

export interface LogDevice {
  /** The end of the log, queued records included: where the next record goes. */
  readonly end: number
  /** Queues bytes at `end`. */
  write(chunk: Buffer): void
  /** Writes everything queued and makes it durable. */
  sync(): Promise<void>
  /** Up to `length` bytes at `position`, clamped to what has been written; data must be copied out to keep. */
  read(position: number, length: number): Buffer
  readonly syncs: number
  close(): void
}

export function createMemoryDevice(): LogDevice {
  let bytes = Buffer.alloc(64 * 1024)
  let end = 0
  let syncs = 0
  let closed = false
  return {
    get end() {
      return end
    },
    get syncs() {
      return syncs
    },
    write(chunk) {
      if (end + chunk.length > bytes.length) {
        const grown = Buffer.alloc(Math.max(bytes.length * 2, end + chunk.length))
        bytes.copy(grown, 0, 0, end)
        bytes = grown
      }
      chunk.copy(bytes, end)
      end += chunk.length
    },
    sync() {
      syncs++
      return Promise.resolve()
    },
    read(position, length) {
      if (closed) throw new EngineClosedError()
      return bytes.subarray(position, Math.min(end, position + length))
    },
    close() {
      closed = true
    },
  }
}

export interface FileDevice extends LogDevice {
  /** The log file's path, for messages. */
  readonly path: string
  /** The file's size when opened (before any truncate). */
  readonly initialSize: number
  /** Cuts the file back to `size` (a torn tail) before anything is written. */
  truncate(size: number): void
  /**
   * Makes what the file already holds durable (counted in `syncs`). Called once at open, after recovery: a
   * killed process may have written records it never synced, which this process reads back whole and would
   * otherwise serve, and cover with an index checkpoint, before its first append's sync.
   */
  syncExisting(): void
  /** Fills `target` from `position` (clamped to what is written); returns the bytes read. */
  readInto(target: Buffer, position: number): number
}

/**
 * The file operations the log goes through: node:fs itself, or for tests a file system that keeps only what
 * was synced when it simulates a power cut.
 */
export type LogFileSystem = Pick<
  typeof nodeFs,
  | 'openSync'
  | 'closeSync'
  | 'fstatSync'
  | 'ftruncateSync'
  | 'fdatasync'
  | 'fdatasyncSync'
  | 'fsyncSync'
  | 'readSync'
  | 'writev'
>

export function openFileDevice(path: string, fs: LogFileSystem = nodeFs): FileDevice {
  const { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync } = fs
  const fd = openSync(path, nodeFs.constants.O_RDWR | nodeFs.constants.O_CREAT, 0o644)
  syncDirectory(fs, dirname(path))
  let written = fstatSync(fd).size
  const initialSize = written
  let queued: Buffer[] = []
  let queuedBytes = 0
  let syncs = 0
  let closed = false
  return {
    path,
    initialSize,
    get end() {
      return written + queuedBytes
    },
    get syncs() {
      return syncs
    },
    truncate(size) {
      ftruncateSync(fd, size)
      fdatasyncSync(fd)
      written = size
    },
    syncExisting() {
      fdatasyncSync(fd)
      syncs++
    },
    write(chunk) {
      queued.push(chunk)
      queuedBytes += chunk.length
    },
    async sync() {
      const chunks = queued
      const bytes = queuedBytesOf(chunks)
      queued = []
      if (chunks.length > 0) await writeAll(fs, fd, chunks, written)
      written += bytes
      queuedBytes -= bytes
      syncs++
      await new Promise<void>((resolve, reject) =>
        fdatasync(fd, (error) => (error ? reject(error) : resolve())),
      )
    },
    read(position, length) {
      const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(length, written - position)))
      const done = this.readInto(buffer, position)
      return done === buffer.length ? buffer : buffer.subarray(0, done)
    },
    readInto(target, position) {
      // A lazy read consumed after close must not read whatever file reuses the descriptor.
      if (closed) throw new EngineClosedError()
      const size = Math.max(0, Math.min(target.length, written - position))
      let done = 0
      while (done < size) {
        const n = readSync(fd, target, done, size - done, position + done)
        if (n === 0) break
        done += n
      }
      return done
    },
    close() {
      closed = true
      closeSync(fd)
    },
  }
}

// A new file's directory entry must be durable too.
function syncDirectory(fs: LogFileSystem, path: string): void {
  const fd = fs.openSync(path, nodeFs.constants.O_RDONLY)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

function queuedBytesOf(chunks: readonly Buffer[]): number {
  let total = 0
  for (const chunk of chunks) total += chunk.length
  return total
}

// writev may write less than asked (large batches): loop until every byte is at its offset.
async function writeAll(fs: LogFileSystem, fd: number, chunks: Buffer[], at: number): Promise<void> {
  let remaining = chunks
  let position = at
  while (remaining.length > 0) {
    const batch = remaining.slice(0, 1024)
    const n = await new Promise<number>((resolve, reject) =>
      fs.writev(fd, batch, position, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    )
    position += n
    remaining = dropBytes(remaining, n)
  }
}

function dropBytes(chunks: Buffer[], n: number): Buffer[] {
  let left = n
  let i = 0
  while (i < chunks.length && left >= (chunks[i]?.length ?? 0)) left -= chunks[i++]?.length ?? 0
  const rest = chunks.slice(i)
  if (left > 0 && rest[0]) rest[0] = rest[0].subarray(left)
  return rest
}
