import { AnnalsError, type ChangesOptions, type RowChange } from '../framework/index.ts'
import { approximateSize } from './approximate-size.ts'
import { matchesWhere } from './read-models/row-query.ts'

/** The feed cannot resume after a position older than the changes it retains (or its reader fell behind). */
export class ChangesExpiredError extends AnnalsError {
  override readonly name = 'ChangesExpiredError'
  constructor(
    readonly model: string,
    readonly after: bigint,
    readonly retainedFrom: bigint,
  ) {
    super(
      'CHANGES_EXPIRED',
      `${model} keeps changes after ${retainedFrom} only; read the rows again and follow from their position (asked after ${after})`,
    )
  }
}

export interface ChangeFeed<TRow> {
  /**
   * Retains a change and hands it to every reader. A late change (an event held behind a dead letter, folded
   * after the model moved on) is stamped with the model's position, which a reader may already have: it
   * reaches readers whatever position they resumed after.
   */
  publish(change: RowChange<TRow>, late?: boolean): void
  /** Whether anyone reads the feed now. */
  readonly reading: boolean
  /**
   * Records that a change at `position` was not retained (nobody reads while the model catches up): a
   * reader resuming before it must read the rows again, as after a truncation.
   */
  skip(position: bigint): void
  /** Replays retained changes after `options.after`, then follows live; see ChangesExpiredError. */
  changes(options: ChangesOptions, currentPosition: () => bigint): AsyncIterable<RowChange<TRow>>
  /** Forgets retained changes: readers resuming before `position` must read the rows again. */
  truncate(position: bigint): void
  /** Starts over empty, as for a model rebuilt from the start: every reader's position stays valid. */
  restart(): void
}

interface Reader<TRow> {
  readonly queue: RowChange<TRow>[]
  wake: (() => void) | undefined
  overflowed: boolean
  /** The position of the last change considered. */
  last: bigint
  /** While set, changes at or before it are ones the reader has (a resume, or a model restarted). */
  skipThrough: bigint | undefined
}

/** How much of the recent past a feed keeps in memory: at most so many changes, of at most so many bytes. */
export interface ChangeRetention {
  readonly changes: number
  /** The rows' approximate JSON size: a change whose row is the size of a site's fleet counts as such. */
  readonly bytes: number
}

/**
 * Creates the change feed of one read model: a bounded ring of recent changes for readers that resume, and
 * a live fan-out. A reader that asks for changes older than the ring, or lets more than the ring's size pile
 * up unread, gets CHANGES_EXPIRED rather than a silent gap: it reads the rows again (their page carries the
 * position) and follows from there. The newest change is always kept, however large.
 */
export function createChangeFeed<TRow>(model: string, limits: ChangeRetention): ChangeFeed<TRow> {
  const retention = limits.changes
  const ring: (RowChange<TRow> | undefined)[] = new Array<RowChange<TRow> | undefined>(retention)
  const sizes = new Float64Array(retention)
  let next = 0
  let count = 0
  let bytes = 0
  /** The position of the newest change that left the ring: readers must be at or past it. */
  let droppedThrough = -1n
  const readers = new Set<Reader<TRow>>()
  const late = new WeakSet<RowChange<TRow>>()

  const retained = (): RowChange<TRow>[] => {
    const start = (next - count + retention) % retention
    return Array.from({ length: count }, (_, i) => ring[(start + i) % retention]!)
  }

  return {
    get reading() {
      return readers.size > 0
    },
    skip(position) {
      if (count > 0) {
        ring.fill(undefined)
        count = 0
        next = 0
        bytes = 0
      }
      droppedThrough = position
    },
    publish(change, isLate = false) {
      if (isLate) late.add(change)
      const size = approximateSize(change.kind === 'deleted' ? change.previous : change.row)
      while (count > 0 && (count === retention || bytes + size > limits.bytes)) {
        const oldest = (next - count + retention) % retention
        droppedThrough = ring[oldest]!.position
        ring[oldest] = undefined
        bytes -= sizes[oldest]!
        count--
      }
      ring[next] = change
      sizes[next] = size
      bytes += size
      count++
      next = (next + 1) % retention
      for (const reader of readers) {
        if (reader.overflowed) continue
        if (reader.queue.length >= retention) reader.overflowed = true
        else reader.queue.push(change)
        reader.wake?.()
      }
    },
    truncate(position) {
      ring.fill(undefined)
      count = 0
      next = 0
      bytes = 0
      droppedThrough = position
    },
    restart() {
      ring.fill(undefined)
      count = 0
      next = 0
      bytes = 0
      droppedThrough = -1n
      for (const reader of readers) reader.skipThrough = reader.last
    },
    async *changes(options, currentPosition) {
      const { signal } = options
      const after = options.after ?? currentPosition()
      if (after < droppedThrough) throw new ChangesExpiredError(model, after, droppedThrough)
      const reader: Reader<TRow> = {
        queue: retained(),
        wake: undefined,
        overflowed: false,
        last: after,
        skipThrough: after,
      }
      readers.add(reader)
      const onAbort = () => reader.wake?.()
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        while (!signal?.aborted) {
          const change = reader.queue.shift()
          if (change === undefined) {
            if (reader.overflowed) throw new ChangesExpiredError(model, reader.last, droppedThrough)
            await new Promise<void>((resolve) => (reader.wake = resolve))
            reader.wake = undefined
            continue
          }
          if (reader.skipThrough !== undefined) {
            if (change.position > reader.skipThrough) reader.skipThrough = undefined
            else if (!late.has(change)) continue
          }
          if (change.position > reader.last) reader.last = change.position
          if (!matchesChange(change, options)) continue
          yield change
        }
      } finally {
        readers.delete(reader)
        signal?.removeEventListener('abort', onAbort)
      }
    },
  }
}

/** Whether a change concerns a reader following one row (`key`) or the rows that match `where`. */
export function matchesChange<TRow>(
  change: RowChange<TRow>,
  { key, where }: Pick<ChangesOptions, 'key' | 'where'>,
): boolean {
  if (key !== undefined && change.key !== key) return false
  if (where === undefined) return true
  const visible = (row: TRow) => matchesWhere(row as Readonly<Record<string, unknown>>, where)
  // An update that moves a row into or out of the filter concerns the reader either way.
  if (change.kind === 'created') return visible(change.row)
  if (change.kind === 'deleted') return visible(change.previous)
  return visible(change.row) || visible(change.previous)
}
