import type { StoredEvent, StreamMetadata } from './engine.ts'
import type { LogIndex } from './log-index.ts'
import type { RecordReader } from './record-reader.ts'

/** What the read paths need of the engine: the index, the durable watermark, and the log's events. */
export interface ReadContext {
  readonly index: LogIndex
  /** Reads records from the log, checked against their checksums. */
  readonly reader: RecordReader
  /** Records starting below this offset are durable and visible. */
  readonly durableEnd: number
  /** How many records are durable: index.all[0 .. durableCount). */
  readonly durableCount: number
  /** The event at `position`, from the cache or the log (checked); throws DamagedRecordError. */
  load(position: number): StoredEvent
  metadata(stream: string, durableEnd: number): StreamMetadata | undefined
  now(): number
}

/** A maxCount as a loop bound. */
export function toLimit(maxCount: bigint | number): number {
  const limit = typeof maxCount === 'bigint' ? Number(maxCount) : maxCount
  return Number.isNaN(limit) || limit < 0 ? 0 : limit
}
