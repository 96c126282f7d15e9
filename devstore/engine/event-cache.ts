/**
 * A least-recently-used cache of decoded events, bounded by bytes, so memory holds the index and not the
 * data. A Map keeps insertion order; a hit moves the entry to the end. Once over its budget it evicts down to
 * EVICT_TO of it in one pass: a Map iterator walks the holes that deletions leave at its front, so evicting
 * one entry per insertion would rescan them every time.
 *
 * An event's data often arrives as a view into a larger buffer (an 8 KB slab of Node's Buffer pool, a chunk
 * read from the log or a gRPC frame): the cache keeps an exact-size copy, or each small entry would hold its
 * whole backing buffer and the budget would count a fraction of the memory it keeps (measured under load: 84k
 * cached buffers holding 14.8k pool slabs, 116 MB, against a 32 MB budget). Its data and metadata share that
 * one copy, and an entry counts what it really costs: counted at 200 bytes of overhead, a soak's heap
 * snapshot found the cache holding 70 MB against its 32 MB budget.
 */
import type { StoredEvent } from './engine.ts'

/**
 * What an entry costs beyond its bytes and strings' characters, measured (event-cache.test.ts): the event
 * object, its revision and position, the buffer and its two views, the strings' headers and the map's slot.
 */
const ENTRY_OVERHEAD_BYTES = 480
const EVICT_TO = 0.9

export class EventCache {
  private readonly entries = new Map<number, StoredEvent>()
  private totalBytes = 0

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.totalBytes
  }

  get(position: number): StoredEvent | undefined {
    const event = this.entries.get(position)
    if (event !== undefined) {
      this.entries.delete(position)
      this.entries.set(position, event)
    }
    return event
  }

  set(position: number, event: StoredEvent): void {
    const size = sizeOf(event)
    if (size > this.maxBytes || this.entries.has(position)) return
    this.entries.set(position, compact(event))
    this.totalBytes += size
    if (this.totalBytes <= this.maxBytes) return
    const target = this.maxBytes * EVICT_TO
    for (const [oldest, old] of this.entries) {
      if (this.totalBytes <= target) break
      this.entries.delete(oldest)
      this.totalBytes -= sizeOf(old)
    }
  }
}

/** The event with its data and metadata copied into one buffer of exactly their size, that no one else holds. */
function compact(event: StoredEvent): StoredEvent {
  const { data, metadata } = event
  // allocUnsafeSlow: Buffer.from would place a small copy in a pool slab again.
  const copy = Buffer.allocUnsafeSlow(data.byteLength + metadata.byteLength)
  copy.set(data)
  copy.set(metadata, data.byteLength)
  return {
    ...event,
    data: copy.subarray(0, data.byteLength),
    metadata: copy.subarray(data.byteLength),
  }
}

function sizeOf(event: StoredEvent): number {
  return (
    event.data.byteLength +
    event.metadata.byteLength +
    event.stream.length +
    event.type.length +
    event.id.length +
    ENTRY_OVERHEAD_BYTES
  )
}
