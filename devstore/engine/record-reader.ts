/**
 * Reading records back from the device: one at a time (stream reads, through the cache) or a page of
 * consecutive records in one read (`$all`, which walks the log in order). Every record read from the device
 * is checked against its checksum first: bytes damaged on disk after they were written are never served;
 * the read fails with DamagedRecordError (DATA_CORRUPT), and the damage is logged once per record.
 */
import { LRUCache } from 'lru-cache'
import type { StoredEvent } from './engine.ts'
import { DamagedRecordError } from './engine-errors.ts'
import type { LogDevice } from './log-device.ts'
import {
  RECORD_HEADER_BYTES,
  decodeRecord,
  isChecksumValid,
  isPayloadLengthPlausible,
} from './record-codec.ts'

const FIRST_READ_BYTES = 4096
const PAGE_READ_BYTES = 256 * 1024
// Damaged offsets already logged; past this many the set starts again, so a bad disk cannot grow it.
const MAX_REPORTED = 1000

export class RecordReader {
  private readonly reported = new LRUCache<number, true>({ max: MAX_REPORTED })

  constructor(
    private readonly device: LogDevice,
    private readonly log: (message: string) => void,
  ) {}

  /** The record at `position`, checked. */
  read(position: number): StoredEvent {
    let bytes = this.device.read(position, FIRST_READ_BYTES)
    const payloadLength = bytes.length >= RECORD_HEADER_BYTES ? bytes.readUInt32LE(0) : -1
    if (!isPayloadLengthPlausible(payloadLength)) throw this.damaged(position)
    const total = RECORD_HEADER_BYTES + payloadLength
    if (bytes.length < total) bytes = this.device.read(position, total)
    if (bytes.length < total || !isChecksumValid(bytes, 0, payloadLength)) throw this.damaged(position)
    return decodeRecord(bytes, 0, BigInt(position))
  }

  /**
   * Up to `maxEvents` consecutive records from `from` (a record's position) to before `to`, checked. A page
   * ends before a damaged record, so its events are served; the read that starts at it fails.
   */
  readPage(from: number, to: number, maxEvents: number): { events: StoredEvent[]; next: number } {
    const events: StoredEvent[] = []
    let at = from
    while (at < to && events.length < maxEvents) {
      const bytes = this.device.read(at, Math.min(PAGE_READ_BYTES, to - at))
      let offset = 0
      let damaged = false
      while (offset + RECORD_HEADER_BYTES <= bytes.length && events.length < maxEvents) {
        const payloadLength = bytes.readUInt32LE(offset)
        const total = RECORD_HEADER_BYTES + payloadLength
        if (!isPayloadLengthPlausible(payloadLength)) damaged = true
        else if (offset + total > bytes.length) break
        else if (!isChecksumValid(bytes, offset, payloadLength)) damaged = true
        if (damaged) break
        events.push(decodeRecord(bytes, offset, BigInt(at + offset)))
        offset += total
      }
      if (offset === 0) {
        // A damaged record (read throws) or one larger than the page (read whole) starts a page of its own.
        if (events.length > 0) break
        events.push(this.read(at))
        offset = RECORD_HEADER_BYTES + this.device.read(at, RECORD_HEADER_BYTES).readUInt32LE(0)
      }
      at += offset
      if (damaged) break
    }
    return { events, next: at }
  }

  private damaged(position: number): DamagedRecordError {
    const error = new DamagedRecordError(fileOf(this.device), position)
    if (!this.reported.has(position)) {
      this.reported.set(position, true)
      this.log(`devstore: DATA_CORRUPT: ${error.message}`)
    }
    return error
  }
}

// A file device names its file; the in-memory one has none.
function fileOf(device: LogDevice): string {
  return 'path' in device && typeof device.path === 'string' ? device.path : '(in memory)'
}
