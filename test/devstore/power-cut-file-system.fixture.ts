/**
 * A file system for the devstore's log that remembers which of the log's bytes were synced, LazyFS-style:
 * writes reach the real file (so the running engine reads them back, as from the page cache), but only
 * fdatasync/fsync makes them durable. At a power cut it goes dead (every later operation fails with EIO),
 * and `diskImage` says what the disk holds: the synced bytes, then the unsynced ones dropped, torn at a
 * random byte, or torn with garbage after them.
 */
import * as fs from 'node:fs'
import type { LogFileSystem } from '../../devstore/engine/log-device.ts'

/** What a power cut does to the bytes written but not synced. */
export type CutMode = 'drop' | 'tear' | 'tear-with-garbage'

export const cutModes: readonly CutMode[] = ['drop', 'tear', 'tear-with-garbage']

export class PowerCutFileSystem implements LogFileSystem {
  /** Counts writes and syncs of the log; the power is cut when it reaches `cutAt`. */
  operations = 0
  private dead = false
  private logFd: number | undefined
  /** The log's durable bytes. */
  private durable = Buffer.alloc(0)
  /** The log's bytes as the running system sees them (durable or not). */
  private current = Buffer.alloc(0)

  constructor(
    private readonly logPath: string,
    private readonly cutAt: number,
  ) {}

  get isCut(): boolean {
    return this.dead
  }

  /** The log file as the disk holds it after the cut. */
  diskImage(mode: CutMode, random: () => number): Buffer {
    const unsynced = this.current.subarray(this.durable.length)
    if (mode === 'drop' || unsynced.length === 0) return Buffer.from(this.durable)
    const kept = unsynced.subarray(0, Math.floor(random() * (unsynced.length + 1)))
    const garbage =
      mode === 'tear-with-garbage'
        ? Buffer.from(
            Array.from({ length: 1 + Math.floor(random() * 512) }, () => Math.floor(random() * 256)),
          )
        : Buffer.alloc(0)
    return Buffer.concat([this.durable, kept, garbage])
  }

  readonly openSync = ((path: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode | null) => {
    this.assertAlive()
    const fd = fs.openSync(path, flags ?? 'r', mode)
    if (String(path) === this.logPath) {
      this.logFd = fd
      // What the file holds when it is opened is on disk: the simulation starts from it.
      this.durable = fs.readFileSync(path)
      this.current = Buffer.from(this.durable)
    }
    return fd
  }) as typeof fs.openSync

  readonly closeSync = (fd: number): void => fs.closeSync(fd)

  readonly fstatSync = ((fd: number) => fs.fstatSync(fd)) as typeof fs.fstatSync

  readonly readSync = ((
    fd: number,
    buffer: NodeJS.ArrayBufferView,
    offset: number,
    length: number,
    position: number,
  ) => fs.readSync(fd, buffer, offset, length, position)) as typeof fs.readSync

  readonly ftruncateSync = (fd: number, length?: number): void => {
    this.assertAlive()
    fs.ftruncateSync(fd, length)
    if (fd !== this.logFd) return
    this.current = this.current.subarray(0, length ?? 0)
    this.durable = this.durable.subarray(0, Math.min(this.durable.length, length ?? 0))
  }

  readonly writev = ((
    fd: number,
    buffers: readonly NodeJS.ArrayBufferView[],
    position: number | null,
    callback: (
      error: NodeJS.ErrnoException | null,
      bytesWritten: number,
      buffers: NodeJS.ArrayBufferView[],
    ) => void,
  ) => {
    if (fd === this.logFd && this.tick()) return void setImmediate(() => callback(eio(), 0, [...buffers]))
    fs.writev(fd, [...buffers], position, (error, bytes, written) => {
      if (error === null && fd === this.logFd) this.record(written, bytes, position ?? this.current.length)
      callback(error, bytes, written)
    })
  }) as typeof fs.writev

  readonly fdatasync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    if (fd === this.logFd && this.tick()) return void setImmediate(() => callback(eio()))
    if (fd === this.logFd) this.durable = Buffer.from(this.current)
    setImmediate(() => callback(this.dead ? eio() : null))
  }) as typeof fs.fdatasync

  readonly fdatasyncSync = (fd: number): void => {
    this.assertAlive()
    if (fd === this.logFd) this.durable = Buffer.from(this.current)
  }

  readonly fsyncSync = (fd: number): void => {
    this.assertAlive()
    if (fd === this.logFd) this.durable = Buffer.from(this.current)
    else fs.fsyncSync(fd)
  }

  /** Counts one operation on the log; true once the power is out (this operation does not happen). */
  private tick(): boolean {
    if (!this.dead && ++this.operations >= this.cutAt) this.dead = true
    return this.dead
  }

  private record(buffers: readonly NodeJS.ArrayBufferView[], bytes: number, position: number): void {
    const written = Buffer.concat(
      buffers.map((buffer) => Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)),
    )
    const end = position + bytes
    if (end > this.current.length) {
      const grown = Buffer.alloc(end)
      this.current.copy(grown)
      this.current = grown
    }
    written.copy(this.current, position, 0, bytes)
  }

  private assertAlive(): void {
    if (this.dead) throw eio()
  }
}

function eio(): NodeJS.ErrnoException {
  return Object.assign(new Error('EIO: the power is out (simulated)'), { code: 'EIO' })
}
