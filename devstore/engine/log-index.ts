/**
 * The in-memory index over the log: per stream, the position of each revision and a fingerprint of each
 * event id; for `$all`, the position of every record in order. Event bodies stay in the log. Entries are
 * added when a record is written; readers see only those below the durable end (see `visibleLast`).
 * Positions are numbers (byte offsets stay far below 2^53); plain number arrays hold them unboxed.
 */
export class StreamEntry {
  /**
   * [position of revision 0, id hash of revision 0, position of revision 1, ...]: one array per stream, so a
   * stream of one event costs one small array (most streams are short; there may be a million of them).
   * The id hash is FNV-1a of the event id, to find a repeated id without reading the log.
   */
  private revisions: number[]
  /** The position of the `$streamDeleted` tombstone, or -1. */
  tombstone = -1

  constructor(revisions: number[] = []) {
    this.revisions = revisions
  }

  /** How many revisions the stream has. */
  get count(): number {
    return this.revisions.length >> 1
  }

  /** The last revision (-1: none). */
  get last(): number {
    return this.count - 1
  }

  position(revision: number): number {
    return this.revisions[revision * 2] ?? -1
  }

  idHash(revision: number): number {
    return this.revisions[revision * 2 + 1] ?? 0
  }

  push(position: number, idHash: number): void {
    if (this.revisions.length === 0) this.revisions = [position, idHash]
    else this.revisions.push(position, idHash)
  }

  /** The last revision whose record is below `durableEnd`. */
  visibleLast(durableEnd: number): number {
    let revision = this.last
    while (revision >= 0 && this.position(revision) >= durableEnd) revision--
    return revision
  }

  isTombstoned(durableEnd = Infinity): boolean {
    return this.tombstone >= 0 && this.tombstone < durableEnd
  }
}

export class LogIndex {
  readonly streams = new Map<string, StreamEntry>()
  /** Every record's position, in log order. */
  all: number[] = []
  eventCount = 0

  stream(name: string): StreamEntry | undefined {
    return this.streams.get(name)
  }

  add(stream: string, position: number, idHash: number, isTombstone: boolean): void {
    this.addTo(this.entryFor(stream), position, idHash, isTombstone)
  }

  /** The stream's entry, created empty if the stream is new. */
  entryFor(stream: string): StreamEntry {
    let entry = this.streams.get(stream)
    if (entry === undefined) {
      entry = new StreamEntry()
      this.streams.set(stream, entry)
    }
    return entry
  }

  addTo(entry: StreamEntry, position: number, idHash: number, isTombstone: boolean): void {
    if (isTombstone) entry.tombstone = position
    else {
      entry.push(position, idHash)
    }
    this.all.push(position)
    this.eventCount++
  }

  /** How many records lie below `durableEnd`. */
  countBelow(durableEnd: number): number {
    let count = this.all.length
    while (count > 0 && (this.all[count - 1] ?? 0) >= durableEnd) count--
    return count
  }

  /** The index in `all` of the first record at or after `position` (all.length if none). */
  lowerBound(position: number): number {
    let low = 0
    let high = this.all.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((this.all[mid] ?? 0) < position) low = mid + 1
      else high = mid
    }
    return low
  }
}
