import type { EventStore, RecordedEvent } from '../framework/index.ts'

/** What follows the log from a position and can fall behind it: a projection, or a reactor's or workflow's partition. */
export interface LagSubject {
  /** Names it among the subjects of its read side (see lagKey). */
  readonly key: string
  /** The position it has processed the log through. */
  position(): bigint
  /** The event types it subscribes to. */
  readonly eventTypes: readonly string[]
  /** Whether an event of those types is its own to process (a partition's); absent: every one is. */
  readonly handles?: (event: RecordedEvent) => boolean
}

/** What the log says a subject has not processed yet, measured from its position. */
export interface MeasuredLag {
  /** The position it was measured from: stale once the subject has moved past it. */
  readonly from: bigint
  /** Its events after `from`, counted; undefined past the count's bound. */
  readonly events: number | undefined
  /** When the oldest of them was appended (an upper bound past the count's bound); undefined when there is none. */
  readonly oldestAt: Date | undefined
}

/** What the read side knows about the log, for lag. */
export interface LogView {
  readonly store: EventStore
  /** The last known head of `$all`. */
  head(): bigint
  /** Roughly how many events lie between two positions (positions are byte offsets). */
  eventsBetween(from: bigint, to: bigint): number
  /** The lag of a subject as last measured from the log, if it has been (see measureLag). */
  lagOf(key: string): MeasuredLag | undefined
}

/** How far behind the log a subject is: its events not processed, and the age of the oldest of them. */
export interface Lag {
  readonly eventsBehind: number
  readonly millisecondsBehind: number
}

/** The key of a reactor's or workflow's partition among the lag subjects (a projection's is its name). */
export function lagKey(kind: 'reactor' | 'workflow', name: string, partition: string): string {
  return `${kind}:${name}/${partition}`
}

/**
 * The lag of a subject that has processed the log through `position`. Measured from this position: exact.
 * Measured from an earlier one, the subject has processed some of those events since; until the next measure
 * the estimate from bytes stands in, and the age of the oldest event measured is an upper bound.
 */
export function lagAt(log: LogView, key: string, position: bigint): Lag {
  const head = log.head()
  if (head <= position) return { eventsBehind: 0, millisecondsBehind: 0 }
  const lag = log.lagOf(key)
  const oldestAt = lag?.oldestAt
  return {
    eventsBehind:
      lag?.from === position && lag.events !== undefined ? lag.events : log.eventsBetween(position, head),
    millisecondsBehind: oldestAt === undefined ? 0 : Math.max(0, Date.now() - oldestAt.getTime()),
  }
}

/** Events read behind a subject's position, at most this many; past it the byte estimate stands. */
const LAG_COUNT_BOUND = 10_000

/**
 * Reads what a subject has not processed: its events after its position, counted up to a bound, and when the
 * oldest of them was appended (the age that matters, not that of the last one processed).
 */
export async function measureLag(store: EventStore, subject: LagSubject, from: bigint): Promise<MeasuredLag> {
  let read = 0
  let events = 0
  let oldestAt: Date | undefined
  let lastReadAt: Date | undefined
  for await (const event of store.readAll({
    fromPosition: from,
    eventTypes: subject.eventTypes,
    maxCount: LAG_COUNT_BOUND + 1,
  })) {
    if (event.position <= from) continue
    read++
    lastReadAt = event.createdAt
    if (subject.handles && !subject.handles(event)) continue
    oldestAt ??= event.createdAt
    events++
  }
  if (read <= LAG_COUNT_BOUND) return { from, events, oldestAt }
  // Cut off: its oldest event is among those read, or younger than the last of them.
  return { from, events: undefined, oldestAt: oldestAt ?? lastReadAt }
}
