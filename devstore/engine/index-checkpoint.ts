/**
 * A snapshot of the index as of a durable end of the log, so a restart scans only the log after it. Written
 * on close and every CHECKPOINT_EVERY_EVENTS events (to a temporary file, fsynced, then renamed); ignored
 * (a full scan follows) when it is damaged or does not match the log. Loading it still checks every record
 * it covers against its checksum (one sequential read, no decoding): a damaged one refuses the open with
 * DataCorruptError, since it was durable (see below) and the records after it were acknowledged.
 *
 * The last record it covers is no exception: the log is synced once at open, after recovery and before
 * anything is served or checkpointed (open-engine.ts), so every byte a checkpoint covers was durable when it
 * was written, and damage there is corruption, not a torn write. Checkpoints of version 2, written before that
 * sync existed, may cover bytes never synced: they are ignored (a full scan with the torn-tail rule follows).
 *
 * Layout (little-endian, 8-byte aligned so it loads through typed arrays): u32 magic | u32 version | f64 logEnd |
 * u32 crc field of the last record | u32 streams | f64 records | f64 × records (every position) | per stream:
 * u32 name bytes, u32 n, f64 tombstone, name (padded), f64 × n positions, u32 × n id hashes (padded) |
 * u32 crc32 of all before.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { DataCorruptError } from './engine-errors.ts'
import type { FileDevice, LogDevice } from './log-device.ts'
import { LogIndex, StreamEntry } from './log-index.ts'
import { PAYLOAD_FIXED_BYTES, RECORD_HEADER_BYTES, isChecksumValid } from './record-codec.ts'

export const CHECKPOINT_FILE = 'devstore.index'
export const CHECKPOINT_EVERY_EVENTS = 200_000
const MAGIC = 0x58495344
// 3: written only over synced bytes (see above); older versions are ignored.
const VERSION = 3
const HEADER_BYTES = 32
const VERIFY_CHUNK_BYTES = 8 * 1024 * 1024

export function writeIndexCheckpoint(
  dataDir: string,
  index: LogIndex,
  device: LogDevice,
  durableEnd: number,
): void {
  const records = index.countBelow(durableEnd)
  const streams: [Buffer, StreamEntry, number][] = []
  let size = HEADER_BYTES + records * 8
  for (const [name, entry] of index.streams) {
    const count = entry.visibleLast(durableEnd) + 1
    const nameBytes = Buffer.from(name, 'utf8')
    streams.push([nameBytes, entry, count])
    size += 16 + align8(nameBytes.length) + count * 8 + align8(count * 4)
  }
  const out = Buffer.alloc(size + 4)
  const f64 = new Float64Array(out.buffer, out.byteOffset, size / 8)
  const u32 = new Uint32Array(out.buffer, out.byteOffset, size / 4)
  u32.set([MAGIC, VERSION], 0)
  f64[1] = durableEnd
  u32.set([lastRecordCrc(index, device, records), streams.length], 4)
  f64[3] = records
  for (let i = 0; i < records; i++) f64[4 + i] = index.all[i] ?? 0
  let at = HEADER_BYTES + records * 8
  for (const [nameBytes, entry, count] of streams) {
    u32.set([nameBytes.length, count], at / 4)
    f64[at / 8 + 1] = entry.isTombstoned(durableEnd) ? entry.tombstone : -1
    nameBytes.copy(out, at + 16)
    at += 16 + align8(nameBytes.length)
    for (let r = 0; r < count; r++) f64[at / 8 + r] = entry.position(r)
    at += count * 8
    for (let r = 0; r < count; r++) u32[at / 4 + r] = entry.idHash(r)
    at += align8(count * 4)
  }
  out.writeUInt32LE(crc32(out.subarray(0, size)), size)
  const path = join(dataDir, CHECKPOINT_FILE)
  const fd = openSync(`${path}.tmp`, 'w', 0o644)
  try {
    writeSync(fd, out)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(`${path}.tmp`, path)
}

/**
 * The index as of the checkpoint and the log offset it covers, or undefined when there is none to trust.
 * Throws DataCorruptError when a record it covers fails its checksum.
 */
export function loadIndexCheckpoint(
  dataDir: string,
  device: FileDevice,
  log: (message: string) => void,
): { index: LogIndex; logEnd: number } | undefined {
  let bytes: Buffer
  try {
    bytes = readFileSync(join(dataDir, CHECKPOINT_FILE))
  } catch {
    return undefined
  }
  const index = parse(bytes)
  const logEnd = bytes.length >= HEADER_BYTES ? bytes.readDoubleLE(8) : 0
  const records = index?.all.length ?? 0
  if (index === undefined || logEnd > device.end || (records > 0 && index.all[0] !== 0)) {
    log(MISMATCH)
    return undefined
  }
  const damage = findDamage(device, index.all, logEnd)
  // The checksum field of the last record ties the checkpoint to this log. If it differs, the checkpoint is
  // still this log's when that record alone is damaged (every record before it whole where the checkpoint
  // says); when it is whole, or an earlier record does not fit either, the log is another one.
  const tied =
    lastRecordCrc(index, device, records) === bytes.readUInt32LE(16) ||
    (damage !== undefined && damage.index === records - 1)
  if (!tied) {
    log(MISMATCH)
    return undefined
  }
  if (damage !== undefined) throw new DataCorruptError(device.path, damage.bad, damage.next ?? logEnd)
  return { index, logEnd }
}

const MISMATCH = 'devstore: the index checkpoint does not match the log; scanning the whole log'

/**
 * Checks each record from the checkpoint's positions (so a damaged length cannot derail the walk): its length
 * must reach the next position and its checksum must match. Returns the first damaged one (its index in
 * `positions` and offset) with the first whole record after it, if any, or undefined when all are whole.
 */
function findDamage(
  device: FileDevice,
  positions: readonly number[],
  logEnd: number,
): { index: number; bad: number; next: number | undefined } | undefined {
  let chunk = Buffer.allocUnsafe(Math.min(VERIFY_CHUNK_BYTES, Math.max(logEnd, RECORD_HEADER_BYTES)))
  let chunkStart = 0
  let chunkEnd = 0
  let damaged: number | undefined
  for (let i = 0; i < positions.length; i++) {
    const position = positions[i] ?? 0
    const end = positions[i + 1] ?? logEnd
    if (end > chunkEnd) {
      if (end - position > chunk.length) chunk = Buffer.allocUnsafe(end - position)
      chunkStart = position
      chunkEnd = position + device.readInto(chunk, position)
    }
    if (!isWholeRecord(chunk, position - chunkStart, end - position, chunkEnd - position)) damaged ??= i
    else if (damaged !== undefined) return { index: damaged, bad: positions[damaged] ?? 0, next: position }
  }
  return damaged === undefined ? undefined : { index: damaged, bad: positions[damaged] ?? 0, next: undefined }
}

// Whether `length` bytes at `at` (of which `available` were read) are one record with a valid checksum.
function isWholeRecord(chunk: Buffer, at: number, length: number, available: number): boolean {
  const payloadLength = length - RECORD_HEADER_BYTES
  return (
    length <= available &&
    payloadLength >= PAYLOAD_FIXED_BYTES &&
    chunk.readUInt32LE(at) === payloadLength &&
    isChecksumValid(chunk, at, payloadLength)
  )
}

function parse(file: Buffer): LogIndex | undefined {
  const size = file.length - 4
  if (size < HEADER_BYTES || size % 8 !== 0 || crc32(file.subarray(0, size)) !== file.readUInt32LE(size))
    return
  // Typed views need 8-byte alignment.
  const bytes = file.byteOffset % 8 === 0 ? file : Buffer.from(file)
  const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, size / 8)
  const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, size / 4)
  if (u32[0] !== MAGIC || u32[1] !== VERSION) return
  const index = new LogIndex()
  const records = f64[3] ?? 0
  index.all = toNumbers(f64, 4, records)
  index.eventCount = records
  let at = HEADER_BYTES + records * 8
  for (let s = u32[5] ?? 0; s > 0 && at + 16 <= size; s--) {
    const nameLength = u32[at / 4] ?? 0
    const count = u32[at / 4 + 1] ?? 0
    const tombstone = f64[at / 8 + 1] ?? -1
    const name = bytes.toString('utf8', at + 16, at + 16 + nameLength)
    at += 16 + align8(nameLength)
    if (at + count * 8 + align8(count * 4) > size) return
    const revisions = new Array<number>(count * 2)
    for (let r = 0, p = at / 8, h = (at + count * 8) / 4; r < count; r++) {
      revisions[2 * r] = f64[p + r] ?? 0
      revisions[2 * r + 1] = u32[h + r] ?? 0
    }
    at += count * 8 + align8(count * 4)
    const entry = new StreamEntry(revisions)
    entry.tombstone = tombstone
    index.streams.set(name, entry)
  }
  return at === size ? index : undefined
}

function toNumbers(view: Float64Array | Uint32Array, from: number, count: number): number[] {
  const numbers = new Array<number>(count)
  for (let i = 0; i < count; i++) numbers[i] = view[from + i] ?? 0
  return numbers
}

function align8(bytes: number): number {
  return (bytes + 7) & ~7
}

// Ties the checkpoint to the log it was taken from: the checksum field of its last record.
function lastRecordCrc(index: LogIndex, device: LogDevice, records: number): number {
  const position = index.all[records - 1]
  if (position === undefined) return 0
  const header = device.read(position, 8)
  return header.length === 8 ? header.readUInt32LE(4) : -1
}
