/**
 * Rebuilds the index by scanning the log. A record whose length runs past the end of the file or whose
 * checksum fails ends the scan. If nothing valid follows it, it is a torn tail (a crash mid-append): the log
 * is cut back to the end of the last whole commit, so nothing half-written is ever served, and the cut is
 * logged. If a whole, valid commit follows it, the record was damaged in place (acknowledged events come
 * after it): opening throws DataCorruptError and the file is left untouched. The part an index checkpoint
 * covers is checked when the checkpoint is loaded (index-checkpoint.ts), so at open every record is.
 * Hot loop: no allocation per record but the stream name.
 */
import { DataCorruptError } from './engine-errors.ts'
import type { FileDevice } from './log-device.ts'
import type { LogIndex, StreamEntry } from './log-index.ts'
import {
  FLAG_END_OF_COMMIT,
  FLAG_JSON,
  MAX_PAYLOAD_BYTES,
  PAYLOAD_FIXED_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_VERSION,
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
  const streams = new StreamLookup(index)
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
      streams.entryAt(chunk, streamStart, idStart),
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
    const next = nextValidCommit(device, offset + 1, size)
    if (next !== undefined) throw new DataCorruptError(device.path, offset, next)
    log(`devstore: cut ${cutBytes} bytes of torn tail at offset ${committedEnd}`)
    device.truncate(committedEnd)
  }
  return { events: index.eventCount - eventsBefore, cutBytes }
}

const MIN_RECORD_BYTES = RECORD_HEADER_BYTES + PAYLOAD_FIXED_BYTES

/**
 * The offset of the first record at or after `from` that starts a run of whole, checksum-valid records ending
 * with an end-of-commit record, or undefined. Tries every byte offset; a header whose lengths do not add up is
 * skipped without reading its payload, so a tail of zeros or garbage costs one pass.
 */
function nextValidCommit(device: FileDevice, from: number, size: number): number | undefined {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size - from, MIN_RECORD_BYTES)))
  let chunkStart = from
  while (chunkStart + MIN_RECORD_BYTES <= size) {
    const read = device.readInto(chunk, chunkStart)
    if (read < MIN_RECORD_BYTES) return undefined
    const last = read - MIN_RECORD_BYTES
    for (let at = 0; at <= last; at++) {
      const offset = chunkStart + at
      if (plausibleHeader(chunk, at, size - offset) && endsACommit(device, offset, size)) return offset
    }
    chunkStart += last + 1
  }
  return undefined
}

// Whether the header and fixed payload fields at `at` describe a record that fits in `room` bytes.
function plausibleHeader(buffer: Buffer, at: number, room: number): boolean {
  const payloadLength = buffer.readUInt32LE(at)
  const p = at + RECORD_HEADER_BYTES
  return (
    payloadLength >= PAYLOAD_FIXED_BYTES &&
    payloadLength <= MAX_PAYLOAD_BYTES &&
    RECORD_HEADER_BYTES + payloadLength <= room &&
    buffer[p] === RECORD_VERSION &&
    ((buffer[p + 1] ?? 0) & ~(FLAG_END_OF_COMMIT | FLAG_JSON)) === 0 &&
    buffer[p + 7] === 0 &&
    PAYLOAD_FIXED_BYTES +
      buffer.readUInt16LE(p + 2) +
      buffer.readUInt16LE(p + 4) +
      (buffer[p + 6] ?? 0) +
      buffer.readUInt32LE(p + 24) +
      buffer.readUInt32LE(p + 28) ===
      payloadLength
  )
}

// Whether whole, valid records run from `offset` up to and including one that ends a commit.
function endsACommit(device: FileDevice, offset: number, size: number): boolean {
  let at = offset
  while (at + MIN_RECORD_BYTES <= size) {
    const header = device.read(at, MIN_RECORD_BYTES)
    if (!plausibleHeader(header, 0, size - at)) return false
    const payloadLength = header.readUInt32LE(0)
    const record = device.read(at, RECORD_HEADER_BYTES + payloadLength)
    if (!isChecksumValid(record, 0, payloadLength)) return false
    if (((record[RECORD_HEADER_BYTES + 1] ?? 0) & FLAG_END_OF_COMMIT) !== 0) return true
    at += RECORD_HEADER_BYTES + payloadLength
  }
  return false
}

// The records of the commit being read: indexed only once its last record has been seen whole.
class PendingCommit {
  private readonly streams: StreamEntry[] = []
  private readonly positions: number[] = []
  private readonly hashes: number[] = []
  private readonly tombstones: boolean[] = []
  private count = 0

  add(stream: StreamEntry, position: number, idHash: number, isTombstone: boolean): void {
    const i = this.count++
    this.streams[i] = stream
    this.positions[i] = position
    this.hashes[i] = idHash
    this.tombstones[i] = isTombstone
  }

  applyTo(index: LogIndex): void {
    for (let i = 0; i < this.count; i++) {
      const stream = this.streams[i]
      if (stream)
        index.addTo(stream, this.positions[i] ?? 0, this.hashes[i] ?? 0, this.tombstones[i] ?? false)
    }
    this.count = 0
  }
}

// Finds a record's stream by the bytes of its name, so the scan does not build a string per record.
class StreamLookup {
  private readonly byHash = new Map<number, { readonly name: Uint8Array; readonly entry: StreamEntry }[]>()

  constructor(private readonly index: LogIndex) {}

  entryAt(chunk: Buffer, start: number, end: number): StreamEntry {
    const hash = hashBytes(chunk, start, end)
    const candidates = this.byHash.get(hash)
    for (const candidate of candidates ?? [])
      if (sameBytes(candidate.name, chunk, start, end)) return candidate.entry
    const entry = this.index.entryFor(chunk.toString('utf8', start, end))
    const known = { name: Uint8Array.prototype.slice.call(chunk, start, end), entry }
    if (candidates) candidates.push(known)
    else this.byHash.set(hash, [known])
    return entry
  }
}

function sameBytes(name: Uint8Array, chunk: Buffer, start: number, end: number): boolean {
  if (name.length !== end - start) return false
  for (let i = 0; i < name.length; i++) if (name[i] !== chunk[start + i]) return false
  return true
}
