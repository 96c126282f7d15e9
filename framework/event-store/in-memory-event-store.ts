import { AnnalsError, StoreUnavailableError } from '../errors.ts'
import type {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeToAllOptions,
  SubscriptionMessage,
} from './event-store.ts'
import { createInMemoryStreams } from './in-memory-streams.ts'

/** The in-memory store: the EventStore port plus what tests need to provoke faults. */
export interface InMemoryEventStore extends EventStore {
  /** Ends every open subscription with StoreUnavailableError, as a dropped connection would. */
  dropSubscriptions(): void
}

export interface InMemoryEventStoreOptions {
  /** The clock stamped on events and used by `$maxAge`; defaults to the system clock. */
  readonly now?: () => Date
}

const CHECKPOINT_WINDOW = 32

/**
 * Creates an event store held in memory that behaves as EventStoreDB does: expected revisions, idempotent
 * appends, byte-offset positions, `$all` reads and catch-up subscriptions, `$maxCount`/`$maxAge` metadata.
 *
 * @example
 * const store = createInMemoryEventStore()
 * await store.appendToStream('Counter-1', [{ id: randomUUID(), type: 'Incremented', data: { by: 1 } }])
 */
export function createInMemoryEventStore(options: InMemoryEventStoreOptions = {}): InMemoryEventStore {
  const now = options.now ?? (() => new Date())
  let closed = false
  let generation = 0
  let wake: (() => void)[] = []

  const notify = () => {
    const waiting = wake
    wake = []
    for (const resolve of waiting) resolve()
  }
  const assertOpen = () => {
    if (closed) throw new StoreUnavailableError('The in-memory event store is closed')
  }
  const streams = createInMemoryStreams({ now, onAppended: notify })
  const { log, visible, readMetadata } = streams

  function append(name: string, events: readonly EventToAppend[], expected: ExpectedRevision): AppendResult {
    assertOpen()
    return streams.append(name, events, expected)
  }

  async function* subscribe(options: SubscribeToAllOptions): AsyncGenerator<SubscriptionMessage> {
    assertOpen()
    const { signal, eventTypes, fromPosition = 'start' } = options
    const myGeneration = generation
    let index = fromPosition === 'start' ? 0 : lowerBound(log, (e) => e.position, fromPosition + 1n)
    let considered = 0
    let caughtUp = false
    signal?.addEventListener('abort', notify, { once: true })
    while (!signal?.aborted) {
      if (closed || generation !== myGeneration) {
        throw new StoreUnavailableError('The in-memory event store dropped the subscription')
      }
      const event = log[index]
      if (event) {
        index++
        if (matches(event, eventTypes, false)) yield { kind: 'event', event }
        if (++considered % CHECKPOINT_WINDOW === 0) yield { kind: 'checkpoint', position: event.position }
      } else if (!caughtUp) {
        caughtUp = true
        const last = log[index - 1]
        if (considered > 0 && last) yield { kind: 'checkpoint', position: last.position }
        yield { kind: 'caughtUp' }
      } else {
        await new Promise<void>((resolve) => wake.push(resolve))
      }
    }
  }

  return {
    appendToStream: (name, events, appendOptions) =>
      Promise.resolve().then(() => append(name, events, appendOptions?.expectedRevision ?? 'any')),
    async *readStream(name: string, readOptions: ReadStreamOptions = {}) {
      assertOpen()
      await Promise.resolve()
      const events = visible(name)
      const backwards = readOptions.direction === 'backwards'
      const from = readOptions.fromRevision ?? (backwards ? 'end' : 'start')
      const bound = typeof from === 'bigint' && backwards ? from + 1n : from
      const at =
        typeof bound === 'bigint' ? lowerBound(events, (e) => e.revision, bound) : edge(events, bound)
      yield* scan(events, at, backwards, readOptions.maxCount, () => true)
    },
    async *readAll(readOptions: ReadAllOptions = {}) {
      assertOpen()
      await Promise.resolve()
      const backwards = readOptions.direction === 'backwards'
      const from = readOptions.fromPosition ?? (backwards ? 'end' : 'start')
      if (typeof from === 'bigint' && from < 0n)
        throw new AnnalsError('BAD_INPUT', `Invalid position ${from}`)
      const at = typeof from === 'bigint' ? lowerBound(log, (e) => e.position, from) : edge(log, from)
      const system = readOptions.excludeSystemEvents === false
      yield* scan(log, at, backwards, readOptions.maxCount, (e) => matches(e, readOptions.eventTypes, system))
    },
    subscribeToAll: (subscribeOptions = {}) => subscribe(subscribeOptions),
    headPosition: () => Promise.resolve(log[log.length - 1]?.position ?? 0n),
    getStreamMetadata: (name) => Promise.resolve().then(() => (assertOpen(), readMetadata(name))),
    setStreamMetadata: async (name, metadata) => {
      await Promise.resolve()
      append(`$$${name}`, [{ id: crypto.randomUUID(), type: '$metadata', data: metadata }], 'any')
    },
    dropSubscriptions: () => {
      generation++
      notify()
    },
    close: () => {
      closed = true
      notify()
      return Promise.resolve()
    },
  }
}

function matches(event: RecordedEvent, eventTypes: readonly string[] | undefined, system: boolean): boolean {
  if (eventTypes) return eventTypes.includes(event.type)
  return system || !event.streamName.startsWith('$')
}

/** Walks a list from an index, forwards or backwards (from the index before it), keeping up to maxCount. */
function* scan(
  list: readonly RecordedEvent[],
  at: number,
  backwards: boolean,
  maxCount = Infinity,
  keep: (event: RecordedEvent) => boolean,
): Generator<RecordedEvent> {
  const end = list.length
  let left = maxCount
  for (
    let index = backwards ? at - 1 : at;
    index >= 0 && index < end && left > 0;
    index += backwards ? -1 : 1
  ) {
    const event = list[index]!
    if (keep(event)) {
      left--
      yield event
    }
  }
}

const edge = (list: readonly unknown[], at: 'start' | 'end') => (at === 'start' ? 0 : list.length)

/** The first index whose key is at least `value`, in a list sorted by that key. */
function lowerBound(
  list: readonly RecordedEvent[],
  key: (event: RecordedEvent) => bigint,
  value: bigint,
): number {
  let low = 0
  let high = list.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (key(list[middle]!) < value) low = middle + 1
    else high = middle
  }
  return low
}
