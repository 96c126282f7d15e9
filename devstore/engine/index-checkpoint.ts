/**
 * A snapshot of the index as of a durable end of the log, so a restart scans only the log after it. Written
 * on close and every CHECKPOINT_EVERY_EVENTS events (to a temporary file, fsynced, then renamed); ignored
 * (a full scan follows) when it is damaged or does not match the log.
 *
 * Layout: u32 magic | u32 version | f64 logEnd | u32 crc of the last record | u32 streams | f64 records |
 * f64 × records (every position) | per stream: u16 name bytes, name, f64 tombstone, u32 n, f64 × n, u32 × n |
 * u32 crc32 of all before.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { LogDevice } from './log-device.ts'
import { LogIndex, StreamEntry } from './log-index.ts'
import { RECORD_HEADER_BYTES, isChecksumValid } from './record-codec.ts'

export const CHECKPOINT_FILE = 'devstore.index'
export const CHECKPOINT_EVERY_EVENTS = 200_000
const MAGIC = 0x58495344
const VERSION = 1
const HEADER_BYTES = 32

export function writeIndexCheckpoint(
  dataDir: string,
  index: LogIndex,
  device: LogDevice,
  durableEnd: number,
): void {
  const records = index.countBelow(durableEnd)
  const streams: [Buffer, StreamEntry, number][] = []
  let size = HEADER_BYTES + records * 8 + 4
  for (const [name, entry] of index.streams) {
    const count = entry.visibleLast(durableEnd) + 1
    const nameBytes = Buffer.from(name, 'utf8')
    streams.push([nameBytes, entry, count])
    size += 2 + nameBytes.length + 8 + 4 + count * 12
  }
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32LE(MAGIC, 0)
  out.writeUInt32LE(VERSION, 4)
  out.writeDoubleLE(durableEnd, 8)
  out.writeUInt32LE(lastRecordCrc(index, device, records), 16)
  out.writeUInt32LE(streams.length, 20)
  out.writeDoubleLE(records, 24)
  let at = HEADER_BYTES
  for (let i = 0; i < records; i++, at += 8) out.writeDoubleLE(index.all[i] ?? 0, at)
  for (const [nameBytes, entry, count] of streams) {
    at = out.writeUInt16LE(nameBytes.length, at)
    at += nameBytes.copy(out, at)
    at = out.writeDoubleLE(entry.isTombstoned(durableEnd) ? entry.tombstone : -1, at)
    at = out.writeUInt32LE(count, at)
    for (let r = 0; r < count; r++) at = out.writeDoubleLE(entry.positions[r] ?? 0, at)
    for (let r = 0; r < count; r++) at = out.writeUInt32LE(entry.idHashes[r] ?? 0, at)
  }
  out.writeUInt32LE(crc32(out.subarray(0, at)), at)
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

/** The index as of the checkpoint and the log offset it covers, or undefined when there is none to trust. */
export function loadIndexCheckpoint(
  dataDir: string,
  device: LogDevice,
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
  if (
    index === undefined ||
    logEnd > device.end ||
    lastRecordCrc(index, device, records) !== bytes.readUInt32LE(16) ||
    !isLastRecordWhole(index, device, records, logEnd)
  ) {
    log('devstore: the index checkpoint does not match the log; scanning the whole log')
    return undefined
  }
  return { index, logEnd }
}

function parse(bytes: Buffer): LogIndex | undefined {
  if (bytes.length < HEADER_BYTES + 4 || bytes.readUInt32LE(0) !== MAGIC || bytes.readUInt32LE(4) !== VERSION)
    return
  const end = bytes.length - 4
  if (crc32(bytes.subarray(0, end)) !== bytes.readUInt32LE(end)) return
  const index = new LogIndex()
  const records = bytes.readDoubleLE(24)
  let at = HEADER_BYTES
  for (let i = 0; i < records; i++, at += 8) index.all.push(bytes.readDoubleLE(at))
  for (let s = bytes.readUInt32LE(20); s > 0; s--) {
    const nameLength = bytes.readUInt16LE(at)
    const name = bytes.toString('utf8', at + 2, (at += 2 + nameLength))
    const entry = new StreamEntry()
    entry.tombstone = bytes.readDoubleLE(at)
    const count = bytes.readUInt32LE(at + 8)
    at += 12
    for (let r = 0; r < count; r++, at += 8) entry.positions.push(bytes.readDoubleLE(at))
    for (let r = 0; r < count; r++, at += 4) entry.idHashes.push(bytes.readUInt32LE(at))
    index.streams.set(name, entry)
  }
  index.eventCount = records
  return at === end ? index : undefined
}

// The record the checkpoint ends with must still be there, whole, ending where the checkpoint does.
function isLastRecordWhole(index: LogIndex, device: LogDevice, records: number, logEnd: number): boolean {
  const position = index.all[records - 1]
  if (position === undefined) return logEnd === 0
  const record = device.read(position, logEnd - position)
  const payloadLength = record.length >= RECORD_HEADER_BYTES ? record.readUInt32LE(0) : -1
  return RECORD_HEADER_BYTES + payloadLength === record.length && isChecksumValid(record, 0, payloadLength)
}

// Ties the checkpoint to the log it was taken from: the checksum field of its last record.
function lastRecordCrc(index: LogIndex, device: LogDevice, records: number): number {
  const position = index.all[records - 1]
  if (position === undefined) return 0
  const header = device.read(position, 8)
  return header.length === 8 ? header.readUInt32LE(4) : -1
}
