/**
 * A least-recently-used cache of decoded events, bounded by bytes, so memory holds the index and not the
 * data. A Map keeps insertion order; a hit moves the entry to the end. Once over its budget it evicts down to
 * EVICT_TO of it in one pass: a Map iterator walks the holes that deletions leave at its front, so evicting
 * one entry per insertion would rescan them every time.
 */
import type { StoredEvent } from './engine.ts'

const ENTRY_OVERHEAD_BYTES = 200
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
    this.entries.set(position, event)
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

function sizeOf(event: StoredEvent): number {
  return (
    event.data.byteLength +
    event.metadata.byteLength +
    event.stream.length +
    event.type.length +
    ENTRY_OVERHEAD_BYTES
  )
}
