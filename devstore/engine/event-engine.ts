/**
 * The engine behind openEngine: appends and deletes decided against the index and written through the group
 * commit (write-append.ts), reads served from the durable part of the log, the live feed of durable commits,
 * and the index checkpoints of a file-backed engine (index-checkpointer.ts).
 */
import { LRUCache } from 'lru-cache'
import { DELETED_REVISION, MAX_APPEND_SIZE } from './engine-constants.ts'
import type {
  AppendResult,
  DeleteResult,
  Engine,
  EngineOptions,
  EngineStats,
  ExpectedRevision,
  ProposedEvent,
  ReadAllFromOptions,
  ReadAllOptions,
  ReadStreamOptions,
  ReadStreamResult,
  StoredEvent,
  StreamMetadata,
} from './engine.ts'
import { isStreamDeleted, type IndexView } from './decide-append.ts'
import { EngineClosedError } from './engine-errors.ts'
import { EventCache } from './event-cache.ts'
import type { LogDevice } from './log-device.ts'
import type { LogIndex } from './log-index.ts'
import { CHECKPOINT_EVERY_EVENTS } from './index-checkpoint.ts'
import { IndexCheckpointer, type Persistence } from './index-checkpointer.ts'
import { LogWriter } from './log-writer.ts'
import { readAll, readAllFrom } from './read-all.ts'
import type { ReadContext } from './read-context.ts'
import { readStream } from './read-stream.ts'
import { RecordReader } from './record-reader.ts'
import { parseStreamMetadata } from './stream-metadata.ts'
import { resolveLink } from './resolve-link.ts'
import { writeAppend, writeDelete, writeSystemEvents, type WriteContext } from './write-append.ts'

export type { Persistence } from './index-checkpointer.ts'

const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024

export class DevEngine implements Engine, ReadContext, IndexView {
  readonly writer: LogWriter
  readonly reader: RecordReader
  durableCount: number
  private readonly cache: EventCache
  private readonly listeners = new Set<(events: readonly StoredEvent[]) => void>()
  private readonly metadataCache = new LRUCache<number, StreamMetadata>({ max: 10_000 })
  private readonly log: (message: string) => void
  private readonly writes: WriteContext
  private closed: Promise<void> | undefined
  private readonly checkpointer: IndexCheckpointer | undefined
  readonly now: () => number

  constructor(
    readonly device: LogDevice,
    readonly index: LogIndex,
    options: EngineOptions,
    private readonly release: () => void,
    persistence?: Persistence,
  ) {
    this.cache = new EventCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES)
    this.log = options.log ?? (() => {})
    this.now = options.now ?? Date.now
    this.durableCount = index.all.length
    this.writer = new LogWriter(device, index, (events) => this.published(events))
    this.writes = {
      view: this,
      index,
      writer: this.writer,
      maxAppendSize: options.maxAppendSize ?? MAX_APPEND_SIZE,
      now: () => this.now(),
      assertOpen: () => this.assertOpen(),
    }
    this.reader = new RecordReader(device, this.log)
    this.checkpointer =
      persistence === undefined
        ? undefined
        : new IndexCheckpointer({
            persistence,
            source: this,
            isClosed: () => this.closed !== undefined,
            log: this.log,
          })
    // After a long recovery scan, a checkpoint spares the next restart from repeating it.
    this.checkpointer?.soon(CHECKPOINT_EVERY_EVENTS / 4)
  }

  get durableEnd(): number {
    return this.writer.durableEnd
  }

  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): Promise<AppendResult> {
    return writeAppend(this.writes, stream, expected, events)
  }

  async softDelete(stream: string, expected: ExpectedRevision): Promise<DeleteResult> {
    return writeDelete(this.writes, stream, expected, false)
  }

  async tombstone(stream: string, expected: ExpectedRevision): Promise<DeleteResult> {
    return writeDelete(this.writes, stream, expected, true)
  }

  readStream(stream: string, options: ReadStreamOptions): Promise<ReadStreamResult> {
    return settle(() => (this.assertOpen(), readStream(this, stream, options)))
  }

  readAll(options: ReadAllOptions): Promise<Iterable<StoredEvent>> {
    return settle(() => (this.assertOpen(), readAll(this, options)))
  }

  readAllFrom(position: 'start' | bigint, options?: ReadAllFromOptions): AsyncIterable<StoredEvent> {
    this.assertOpen()
    return readAllFrom(() => (this.assertOpen(), this), position, options)
  }

  lastEvent(stream: string): StoredEvent | undefined {
    this.assertOpen()
    const entry = this.index.stream(stream)
    const last = entry?.visibleLast(this.durableEnd) ?? -1
    return entry === undefined || last < 0 ? undefined : this.load(entry.position(last))
  }

  getMetadata(stream: string): StreamMetadata | undefined {
    return this.metadata(stream, this.durableEnd)
  }

  resolveLink(event: StoredEvent): StoredEvent | undefined {
    return resolveLink(this, event)
  }

  subscribe(listener: (events: readonly StoredEvent[]) => void): () => void {
    const own = (events: readonly StoredEvent[]) => listener(events)
    this.listeners.add(own)
    return () => this.listeners.delete(own)
  }

  headPosition(): bigint {
    return BigInt(this.index.all[this.durableCount - 1] ?? 0)
  }

  streamRevision(stream: string): bigint | undefined {
    const entry = this.index.stream(stream)
    if (entry?.isTombstoned() === true) return DELETED_REVISION
    return entry === undefined || entry.last < 0 ? undefined : BigInt(entry.last)
  }

  stats(): EngineStats {
    return {
      commits: this.writer.commits,
      fsyncs: this.device.syncs,
      events: this.index.eventCount,
      streams: this.index.streams.size,
      cacheBytes: this.cache.bytes,
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.writer.drain()
      this.listeners.clear()
      if (this.writer.failure === undefined) this.checkpointer?.write()
      this.device.close()
      this.release()
    })()
    return this.closed
  }

  /** IndexView and ReadContext: the index entry, the events and the metadata they stand for. */
  entry(stream: string) {
    return this.index.stream(stream)
  }

  load(position: number): StoredEvent {
    const cached = this.cache.get(position) ?? this.writer.unflushedEvent(position)
    if (cached !== undefined) return cached
    const event = this.reader.read(position)
    this.cache.set(position, event)
    return event
  }

  metadata(stream: string, durableEnd = Infinity): StreamMetadata | undefined {
    const metastream = `$$${stream}`
    if (isStreamDeleted(this, metastream, durableEnd)) return undefined
    const entry = this.index.stream(metastream)
    const last = entry?.visibleLast(durableEnd) ?? -1
    if (entry === undefined || last < 0) return undefined
    const position = entry.position(last)
    let metadata = this.metadataCache.get(position)
    if (metadata === undefined) {
      metadata = parseStreamMetadata(this.load(position).data)
      this.metadataCache.set(position, metadata)
    }
    return metadata
  }

  writeSystemEvents(): Promise<void> {
    return writeSystemEvents(this.writes)
  }

  private published(events: readonly StoredEvent[]): void {
    this.durableCount += events.length
    this.checkpointer?.soon(CHECKPOINT_EVERY_EVENTS)
    for (const event of events) this.cache.set(Number(event.position), event)
    for (const listener of this.listeners) {
      try {
        listener(events)
      } catch (error) {
        this.log(`devstore: a subscriber threw: ${String(error)}`)
      }
    }
  }

  private assertOpen(): void {
    if (this.closed !== undefined) throw new EngineClosedError()
    if (this.writer.failure !== undefined) throw this.writer.failure
  }
}

// Synchronous work behind a promise-returning method: a throw becomes a rejection.
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work())
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}
