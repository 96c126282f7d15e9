/**
 * The log's record format. A record is `u32 payload length | u32 crc32(payload) | payload`, and its byte
 * offset in the log is the event's position. The payload holds one event; the flag END_OF_COMMIT marks the
 * last record of an append, so recovery never serves half of one.
 *
 * payload: u8 version | u8 flags | u16 stream bytes | u16 type bytes | u8 id bytes | u8 0 | i64 revision |
 *          f64 created | u32 data bytes | u32 metadata bytes | stream | id | type | data | metadata
 */
import { crc32 } from 'node:zlib'
import type { StoredEvent } from './engine.ts'

export const RECORD_HEADER_BYTES = 8
export const PAYLOAD_FIXED_BYTES = 32
/** A record longer than this is corruption, not an event (appends are limited far below it). */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024
export const RECORD_VERSION = 1
export const FLAG_JSON = 1
export const FLAG_END_OF_COMMIT = 2

/** A stored event before it has a position: the log gives it the byte offset it is written at. */
export type EventToEncode = Omit<StoredEvent, 'position'>

export function encodeRecord(event: EventToEncode, endOfCommit: boolean): Buffer {
  // Measured first and written in place: one buffer per record, no intermediate ones per string.
  const streamLength = Buffer.byteLength(event.stream, 'utf8')
  const idLength = Buffer.byteLength(event.id, 'utf8')
  const typeLength = Buffer.byteLength(event.type, 'utf8')
  if (streamLength > 0xffff || typeLength > 0xffff || idLength > 0xff) {
    throw new RangeError('devstore: a stream name or event type over 65535 bytes, or an id over 255 bytes')
  }
  const payloadLength =
    PAYLOAD_FIXED_BYTES + streamLength + idLength + typeLength + event.data.length + event.metadata.length
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadLength)
  let at = RECORD_HEADER_BYTES
  record.writeUInt32LE(payloadLength, 0)
  record[at] = RECORD_VERSION
  record[at + 1] =
    (event.contentType === 'application/json' ? FLAG_JSON : 0) | (endOfCommit ? FLAG_END_OF_COMMIT : 0)
  record.writeUInt16LE(streamLength, at + 2)
  record.writeUInt16LE(typeLength, at + 4)
  record[at + 6] = idLength
  record[at + 7] = 0
  record.writeBigInt64LE(event.revision, at + 8)
  record.writeDoubleLE(event.created, at + 16)
  record.writeUInt32LE(event.data.length, at + 24)
  record.writeUInt32LE(event.metadata.length, at + 28)
  at += PAYLOAD_FIXED_BYTES
  at += record.write(event.stream, at, streamLength, 'utf8')
  at += record.write(event.id, at, idLength, 'utf8')
  at += record.write(event.type, at, typeLength, 'utf8')
  record.set(event.data, at)
  record.set(event.metadata, at + event.data.length)
  record.writeUInt32LE(crc32(record.subarray(RECORD_HEADER_BYTES)), 4)
  return record
}

/** The payload length of the record at `offset`, or undefined if fewer than its header's bytes are there. */
export function payloadLengthAt(buffer: Buffer, offset: number, end: number): number | undefined {
  return offset + RECORD_HEADER_BYTES > end ? undefined : buffer.readUInt32LE(offset)
}

/** Whether a payload length is one a record can have (anything else is a damaged header). */
export function isPayloadLengthPlausible(payloadLength: number): boolean {
  return payloadLength >= PAYLOAD_FIXED_BYTES && payloadLength <= MAX_PAYLOAD_BYTES
}

export function isChecksumValid(buffer: Buffer, offset: number, payloadLength: number): boolean {
  const start = offset + RECORD_HEADER_BYTES
  return crc32(buffer.subarray(start, start + payloadLength)) === buffer.readUInt32LE(offset + 4)
}

/** Decodes the whole event; data and metadata are copied, so `buffer` may be reused. */
export function decodeRecord(buffer: Buffer, offset: number, position: bigint): StoredEvent {
  const p = offset + RECORD_HEADER_BYTES
  const streamLength = buffer.readUInt16LE(p + 2)
  const typeLength = buffer.readUInt16LE(p + 4)
  const idLength = buffer[p + 6] ?? 0
  const dataLength = buffer.readUInt32LE(p + 24)
  const metadataLength = buffer.readUInt32LE(p + 28)
  let at = p + PAYLOAD_FIXED_BYTES
  const stream = buffer.toString('utf8', at, (at += streamLength))
  const id = buffer.toString('utf8', at, (at += idLength))
  const type = buffer.toString('utf8', at, (at += typeLength))
  const data = Uint8Array.prototype.slice.call(buffer, at, (at += dataLength))
  const metadata = Uint8Array.prototype.slice.call(buffer, at, at + metadataLength)
  return {
    stream,
    revision: buffer.readBigInt64LE(p + 8),
    position,
    id,
    type,
    data,
    metadata,
    contentType: ((buffer[p + 1] ?? 0) & FLAG_JSON) !== 0 ? 'application/json' : 'application/octet-stream',
    created: buffer.readDoubleLE(p + 16),
  }
}

/** FNV-1a over an id's UTF-8 bytes: a compact fingerprint for idempotency checks (confirmed against the log). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ (bytes[i] ?? 0), 0x01000193)
  return hash >>> 0
}

export function hashId(id: string): number {
  // An ASCII id (every UUID string) is its own UTF-8: hash its characters without encoding it.
  let hash = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i)
    if (code >= 0x80) {
      const bytes = Buffer.from(id, 'utf8')
      return hashBytes(bytes, 0, bytes.length)
    }
    hash = Math.imul(hash ^ code, 0x01000193)
  }
  return hash >>> 0
}
