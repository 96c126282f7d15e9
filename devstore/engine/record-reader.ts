/**
 * Reading records back from the device: one at a time (stream reads, through the cache) or a page of
 * consecutive records in one read (`$all`, which walks the log in order).
 */
import type { StoredEvent } from './engine.ts'
import type { LogDevice } from './log-device.ts'
import { RECORD_HEADER_BYTES, decodeRecord } from './record-codec.ts'

const FIRST_READ_BYTES = 4096
const PAGE_READ_BYTES = 256 * 1024

export function readRecord(device: LogDevice, position: number): StoredEvent {
  let bytes = device.read(position, FIRST_READ_BYTES)
  const total = RECORD_HEADER_BYTES + bytes.readUInt32LE(0)
  if (bytes.length < total) bytes = device.read(position, total)
  return decodeRecord(bytes, 0, BigInt(position))
}

/** Up to `maxEvents` consecutive records from `from` (a record's position) to before `to`. */
export function readRecords(
  device: LogDevice,
  from: number,
  to: number,
  maxEvents: number,
): { events: StoredEvent[]; next: number } {
  const events: StoredEvent[] = []
  let at = from
  while (at < to && events.length < maxEvents) {
    const bytes = device.read(at, Math.min(PAGE_READ_BYTES, to - at))
    let offset = 0
    while (offset + RECORD_HEADER_BYTES <= bytes.length && events.length < maxEvents) {
      const total = RECORD_HEADER_BYTES + bytes.readUInt32LE(offset)
      if (offset + total > bytes.length) break
      events.push(decodeRecord(bytes, offset, BigInt(at + offset)))
      offset += total
    }
    if (offset === 0) {
      // A record larger than the page: read it whole.
      const event = readRecord(device, at)
      events.push(event)
      offset = RECORD_HEADER_BYTES + device.read(at, RECORD_HEADER_BYTES).readUInt32LE(0)
    }
    at += offset
  }
  return { events, next: at }
}
