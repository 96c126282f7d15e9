/**
 * The engine behind openEngine: appends and deletes decided against the index and written through the group
 * commit, reads served from the durable part of the log, and the live feed of durable commits.
 */
import { DELETED_REVISION, MAX_APPEND_SIZE } from './engine-constants.ts'
import { appendRecords, metadataRecord, systemEventsRecords, tombstoneRecord } from './commit-records.ts'
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
import { decideAppend, decideDelete, isStreamDeleted, type IndexView } from './decide-append.ts'
import { EngineClosedError } from './engine-errors.ts'
import { EventCache } from './event-cache.ts'
import type { LogDevice } from './log-device.ts'
import type { LogIndex } from './log-index.ts'
import { CHECKPOINT_EVERY_EVENTS, writeIndexCheckpoint } from './index-checkpoint.ts'
import { LogWriter } from './log-writer.ts'
import { readAll, readAllFrom } from './read-all.ts'
import type { ReadContext } from './read-context.ts'
import { readStream } from './read-stream.ts'
import type { EventToEncode } from './record-codec.ts'
import { RecordReader } from './record-reader.ts'
import { SOFT_DELETE_METADATA, parseStreamMetadata } from './stream-metadata.ts'
import { resolveLink } from './resolve-link.ts'

const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024

/** Where a file-backed engine keeps its index checkpoint, and how many events it covers. */
export interface Persistence {
  readonly dataDir: string
  checkpointedEvents: number
}

export class DevEngine implements Engine, ReadContext, IndexView {
  readonly writer: LogWriter
  readonly reader: RecordReader
  durableCount: number
  private readonly cache: EventCache
  private readonly listeners = new Set<(events: readonly StoredEvent[]) => void>()
  private readonly metadataCache = new Map<number, StreamMetadata>()
  private readonly log: (message: string) => void
  private readonly maxAppendSize: number
  private closed: Promise<void> | undefined
  private checkpointScheduled = false
  readonly now: () => number

  constructor(
    readonly device: LogDevice,
    readonly index: LogIndex,
    options: EngineOptions,
    private readonly release: () => void,
    private readonly persistence?: Persistence,
  ) {
    this.cache = new EventCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES)
    this.log = options.log ?? (() => {})
    this.maxAppendSize = options.maxAppendSize ?? MAX_APPEND_SIZE
    this.now = options.now ?? Date.now
    this.durableCount = index.all.length
    this.writer = new LogWriter(device, index, (events) => this.published(events))
    this.reader = new RecordReader(device, this.log)
    // After a long recovery scan, a checkpoint spares the next restart from repeating it.
    this.checkpointSoon(CHECKPOINT_EVERY_EVENTS / 4)
  }

  get durableEnd(): number {
    return this.writer.durableEnd
  }

  async append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): Promise<AppendResult> {
    this.assertOpen()
    let size = 0
    for (const event of events) size += event.data.byteLength + event.metadata.byteLength
    if (size > this.maxAppendSize) return { kind: 'too-big', max: this.maxAppendSize }
    const decision = decideAppend(
      this,
      stream,
      expected,
      events.map((event) => event.id),
    )
    if (decision.kind === 'repeat') {
      await this.writer.waitDurable(Number(decision.result.position) + 1)
      return decision.result
    }
    if (decision.kind !== 'write') return decision
    const { firstRevision } = decision
    if (events.length === 0) {
      const entry = this.index.stream(stream)
      const position = entry?.position(entry.last)
      return { kind: 'ok', firstRevision, nextRevision: firstRevision - 1n, position: BigInt(position ?? -1) }
    }
    const created = this.now()
    const records = appendRecords(stream, firstRevision, events, created)
    if (decision.undelete !== undefined)
      records.unshift(metadataRecord(this.index, stream, decision.undelete, created))
    const last = this.commit(records)
    await this.writer.waitDurable(Number(last.position) + 1)
    return { kind: 'ok', firstRevision, nextRevision: last.revision, position: last.position }
  }

  async softDelete(stream: string, expected: ExpectedRevision): Promise<DeleteResult> {
    return this.delete(stream, expected, false)
  }

  async tombstone(stream: string, expected: ExpectedRevision): Promise<DeleteResult> {
    return this.delete(stream, expected, true)
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
      if (this.persistence !== undefined && this.writer.failure === undefined)
        this.checkpoint(this.persistence)
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
      if (this.metadataCache.size >= 10_000) this.metadataCache.clear()
      this.metadataCache.set(position, metadata)
    }
    return metadata
  }

  async writeSystemEvents(): Promise<void> {
    const last = this.commit(systemEventsRecords(this.now()))
    await this.writer.waitDurable(Number(last.position) + 1)
  }

  private async delete(stream: string, expected: ExpectedRevision, hard: boolean): Promise<DeleteResult> {
    this.assertOpen()
    const decision = decideDelete(this, stream, expected, hard)
    if (decision.kind !== 'delete') return decision
    const created = this.now()
    const record = hard
      ? tombstoneRecord(stream, created)
      : metadataRecord(this.index, stream, SOFT_DELETE_METADATA, created)
    const last = this.commit([record])
    await this.writer.waitDurable(Number(last.position) + 1)
    return { kind: 'ok', position: last.position }
  }

  private commit(records: readonly EventToEncode[]): StoredEvent {
    const stored = this.writer.write(records)
    return stored[stored.length - 1] as StoredEvent
  }

  /** Once `after` events are not covered by the index checkpoint, writes one (off the current call). */
  private checkpointSoon(after: number): void {
    const { persistence } = this
    if (persistence === undefined || this.checkpointScheduled) return
    if (this.durableCount - persistence.checkpointedEvents < after) return
    this.checkpointScheduled = true
    setImmediate(() => {
      this.checkpointScheduled = false
      if (this.closed === undefined) this.checkpoint(persistence)
    })
  }

  private checkpoint(persistence: Persistence): void {
    const events = this.index.countBelow(this.durableEnd)
    if (events === persistence.checkpointedEvents) return
    try {
      writeIndexCheckpoint(persistence.dataDir, this.index, this.device, this.durableEnd)
      persistence.checkpointedEvents = events
    } catch (error) {
      this.log(`devstore: could not write the index checkpoint: ${String(error)}`)
    }
  }

  private published(events: readonly StoredEvent[]): void {
    this.durableCount += events.length
    this.checkpointSoon(CHECKPOINT_EVERY_EVENTS)
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
