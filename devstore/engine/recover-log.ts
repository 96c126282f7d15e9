/**
 * Rebuilds the index by scanning the log. A record whose length runs past the end of the file or whose
 * checksum fails ends the scan; the log is cut back to the end of the last whole commit, so nothing
 * half-written is ever served, and the cut is logged. Hot loop: no allocation per record but the stream name.
 */
import type { FileDevice } from './log-device.ts'
import type { LogIndex } from './log-index.ts'
import {
  FLAG_END_OF_COMMIT,
  MAX_PAYLOAD_BYTES,
  PAYLOAD_FIXED_BYTES,
  RECORD_HEADER_BYTES,
  hashBytes,
  isChecksumValid,
} from './record-codec.ts'

const CHUNK_BYTES = 8 * 1024 * 1024

export interface Recovery {
  /** Events found in the scanned part of the log. */
  readonly events: number
  /** Bytes cut from the tail (0 for a clean log). */
  readonly cutBytes: number
}

/** Scans from `from` (0, or the end of the log an index checkpoint covers) to the end of the file. */
export function recoverLog(
  device: FileDevice,
  index: LogIndex,
  log: (message: string) => void,
  from = 0,
): Recovery {
  const size = device.initialSize
  const commit = new PendingCommit()
  let chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size, RECORD_HEADER_BYTES)))
  let chunkStart = from
  let chunkEnd = from
  let offset = from
  let committedEnd = from
  const eventsBefore = index.eventCount
  while (offset < size) {
    if (offset + RECORD_HEADER_BYTES > chunkEnd)
      [chunkStart, chunkEnd] = [offset, offset + device.readInto(chunk, offset)]
    if (offset + RECORD_HEADER_BYTES > chunkEnd) break
    const payloadLength = chunk.readUInt32LE(offset - chunkStart)
    if (payloadLength < PAYLOAD_FIXED_BYTES || payloadLength > MAX_PAYLOAD_BYTES) break
    const total = RECORD_HEADER_BYTES + payloadLength
    if (offset + total > size) break
    if (offset + total > chunkEnd) {
      if (total > chunk.length) chunk = Buffer.allocUnsafe(total)
      ;[chunkStart, chunkEnd] = [offset, offset + device.readInto(chunk, offset)]
    }
    const at = offset - chunkStart
    if (!isChecksumValid(chunk, at, payloadLength)) break
    const p = at + RECORD_HEADER_BYTES
    const streamStart = p + PAYLOAD_FIXED_BYTES
    const idStart = streamStart + chunk.readUInt16LE(p + 2)
    commit.add(
      chunk.toString('utf8', streamStart, idStart),
      offset,
      hashBytes(chunk, idStart, idStart + (chunk[p + 6] ?? 0)),
      chunk.readUInt32LE(p + 8) === 0xffffffff && chunk.readUInt32LE(p + 12) === 0x7fffffff,
    )
    offset += total
    if (((chunk[p + 1] ?? 0) & FLAG_END_OF_COMMIT) !== 0) {
      commit.applyTo(index)
      committedEnd = offset
    }
  }
  const cutBytes = size - committedEnd
  if (cutBytes > 0) {
    log(`devstore: cut ${cutBytes} bytes of torn tail at offset ${committedEnd}`)
    device.truncate(committedEnd)
  }
  return { events: index.eventCount - eventsBefore, cutBytes }
}

// The records of the commit being read: indexed only once its last record has been seen whole.
class PendingCommit {
  private readonly streams: string[] = []
  private readonly positions: number[] = []
  private readonly hashes: number[] = []
  private readonly tombstones: boolean[] = []

  add(stream: string, position: number, idHash: number, isTombstone: boolean): void {
    this.streams.push(stream)
    this.positions.push(position)
    this.hashes.push(idHash)
    this.tombstones.push(isTombstone)
  }

  applyTo(index: LogIndex): void {
    for (let i = 0; i < this.streams.length; i++) {
      index.add(
        this.streams[i] ?? '',
        this.positions[i] ?? 0,
        this.hashes[i] ?? 0,
        this.tombstones[i] ?? false,
      )
    }
    this.streams.length = this.positions.length = this.hashes.length = this.tombstones.length = 0
  }
}
