import { AnnalsError, ConcurrencyConflictError } from '../errors.ts'
import type {
  AppendResult,
  EventToAppend,
  ExpectedRevision,
  RecordedEvent,
  StreamMetadata,
} from './event-store.ts'

/** The streams of the in-memory store and their `$all` log, kept as EventStoreDB keeps them. */
export interface InMemoryStreams {
  /** Every event in `$all` order: the same array, growing with each append. */
  readonly log: readonly RecordedEvent[]
  /** Appends with EventStoreDB's rules: UUID ids, expected revisions, idempotent retries, byte-offset positions. */
  readonly append: (
    name: string,
    events: readonly EventToAppend[],
    expected: ExpectedRevision,
  ) => AppendResult
  /** The events of a stream that its metadata (`$tb`, `$maxCount`, `$maxAge`) leaves readable. */
  readonly visible: (name: string) => readonly RecordedEvent[]
  /** The latest metadata of a stream, from its `$$` stream. */
  readonly readMetadata: (name: string) => StreamMetadata | undefined
}

export interface InMemoryStreamsOptions {
  /** The clock stamped on events and used by `$maxAge`. */
  readonly now: () => Date
  /** Called once events are appended; not after an empty or repeated append, which write nothing. */
  readonly onAppended: () => void
}

interface Stream {
  readonly events: RecordedEvent[]
  /** Event id to revision, for recognising a repeated append. */
  readonly ids: Map<string, number>
}

// EventStoreDB numbers events by their byte offset in the log; the prologue mimics a fresh database's system events.
const PROLOGUE = 1024n
const RECORD_HEADER = 96
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Creates the streams and the log of an in-memory event store; the store adds reads, subscriptions and closing. */
export function createInMemoryStreams(options: InMemoryStreamsOptions): InMemoryStreams {
  const { now, onAppended } = options
  const log: RecordedEvent[] = []
  const streams = new Map<string, Stream>()
  let nextPosition = PROLOGUE

  function append(name: string, events: readonly EventToAppend[], expected: ExpectedRevision): AppendResult {
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
    onAppended()
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

  return { log, append, visible, readMetadata }
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
