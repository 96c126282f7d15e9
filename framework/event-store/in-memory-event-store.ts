import { AnnalsError, ConcurrencyConflictError, StoreUnavailableError } from '../errors.ts'
import type {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamMetadata,
  SubscribeToAllOptions,
  SubscriptionMessage,
} from './event-store.ts'

/** The in-memory store: the EventStore port plus what tests need to provoke faults. */
export interface InMemoryEventStore extends EventStore {
  /** Ends every open subscription with StoreUnavailableError, as a dropped connection would. */
  dropSubscriptions(): void
}

export interface InMemoryEventStoreOptions {
  /** The clock stamped on events and used by `$maxAge`; defaults to the system clock. */
  readonly now?: () => Date
}

interface Stream {
  readonly events: RecordedEvent[]
  /** Event id to revision, for recognising a repeated append. */
  readonly ids: Map<string, number>
}

// EventStoreDB numbers events by their byte offset in the log; the prologue mimics a fresh database's system events.
const PROLOGUE = 1024n
const RECORD_HEADER = 96
const CHECKPOINT_WINDOW = 32
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

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
  const log: RecordedEvent[] = []
  const streams = new Map<string, Stream>()
  let nextPosition = PROLOGUE
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

  function append(name: string, events: readonly EventToAppend[], expected: ExpectedRevision): AppendResult {
    assertOpen()
    for (const event of events) {
      if (!UUID.test(event.id)) throw new AnnalsError('BAD_INPUT', `Event id "${event.id}" is not a UUID`)
    }
    const stream = streams.get(name)
    const current = stream ? BigInt(stream.events.length - 1) : undefined
    const conflict = () => new ConcurrencyConflictError(name, expected, current)
    const repeated = stream && events.length > 0 ? repeatedAppend(stream, events, expected) : 'new'
    if (repeated === 'conflict') throw conflict()
    if (repeated !== 'new') return repeated
    if (expected === 'no_stream' && stream) throw conflict()
    if (expected === 'stream_exists' && !stream) throw conflict()
    if (typeof expected === 'bigint' && expected !== (current ?? -1n)) throw conflict()
    if (events.length === 0) {
      return { nextRevision: current ?? -1n, position: stream?.events.at(-1)?.position ?? 0n }
    }
    const target = stream ?? { events: [], ids: new Map<string, number>() }
    streams.set(name, target)
    const createdAt = now()
    const positions: bigint[] = []
    for (const event of events) {
      // Stored as JSON, as EventStoreDB stores it: later changes to the caller's object do not leak in.
      const dataJson = JSON.stringify(event.data ?? null)
      const metadataJson = JSON.stringify(event.metadata ?? {})
      const size = RECORD_HEADER + name.length + event.type.length + dataJson.length + metadataJson.length
      const recorded: RecordedEvent = {
        streamName: name,
        id: event.id.toLowerCase(),
        type: event.type,
        revision: BigInt(target.events.length),
        position: nextPosition,
        data: JSON.parse(dataJson) as unknown,
        metadata: JSON.parse(metadataJson) as Record<string, unknown>,
        createdAt,
      }
      positions.push(nextPosition)
      nextPosition += BigInt(size)
      target.ids.set(recorded.id, target.events.length)
      target.events.push(recorded)
      log.push(recorded)
    }
    notify()
    const last = target.events[target.events.length - 1]!
    return { nextRevision: last.revision, position: last.position, positions }
  }

  function visible(name: string): readonly RecordedEvent[] {
    const events = streams.get(name)?.events ?? []
    const metadata = name.startsWith('$$') ? undefined : readMetadata(name)
    if (!metadata) return events
    let from = 0
    if (typeof metadata.$tb === 'number') from = Math.max(from, metadata.$tb)
    if (typeof metadata.$maxCount === 'number') from = Math.max(from, events.length - metadata.$maxCount)
    let shown = events.slice(from)
    if (typeof metadata.$maxAge === 'number') {
      const oldest = now().getTime() - metadata.$maxAge * 1000
      shown = shown.filter((event) => event.createdAt.getTime() >= oldest)
    }
    return shown
  }

  function readMetadata(name: string): StreamMetadata | undefined {
    const events = streams.get(`$$${name}`)?.events
    return events?.[events.length - 1]?.data as StreamMetadata | undefined
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

/** Recognises a retried append (EventStoreDB's idempotence): the original result, a conflict, or 'new'. */
function repeatedAppend(
  stream: Stream,
  events: readonly EventToAppend[],
  expected: ExpectedRevision,
): AppendResult | 'conflict' | 'new' {
  const current = stream.events.length - 1
  let start: number
  if (typeof expected === 'bigint' || expected === 'no_stream') {
    const after = expected === 'no_stream' ? -1 : Number(expected)
    if (after >= current) return 'new'
    start = after + 1
  } else {
    const known = stream.ids.get(events[0]!.id.toLowerCase())
    if (known === undefined) return 'new'
    start = known
  }
  const stored = stream.events.slice(start, start + events.length)
  const same = stored.length === events.length && stored.every((e, i) => e.id === events[i]!.id.toLowerCase())
  if (!same) return 'conflict'
  const last = stored[stored.length - 1]!
  return { nextRevision: last.revision, position: last.position, positions: stored.map((e) => e.position) }
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
