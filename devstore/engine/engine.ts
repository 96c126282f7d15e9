/**
 * The devstore engine's contract (opened by openEngine, open-engine.ts): the durable log of an EventStoreDB-like node, its index, and the semantic rules of
 * streams and `$all`. The gRPC layer (devstore/grpc/) translates the protocol into calls on an Engine; the
 * persistent subscriptions (devstore/persistent/) are built on top of it. Revisions and positions are bigints.
 *
 * Positions are byte offsets of records in the log (commit == prepare), strictly increasing, not contiguous.
 * A fresh database holds two system events (see SYSTEM_EVENTS_ON_CREATE) so `$all` is never empty.
 *
 * @example
 * const engine = await openEngine({ dataDir: '.annals/devstore' })
 * const result = await engine.append('battery-1', 'no_stream', [event])
 * const read = await engine.readStream('battery-1', { direction: 'forwards', fromRevision: 'start', maxCount: 100n })
 */
import type { LogFileSystem } from './log-device.ts'

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint
export type ContentType = 'application/json' | 'application/octet-stream'
export type Direction = 'forwards' | 'backwards'

export { DELETED_REVISION, MAX_APPEND_SIZE, SYSTEM_EVENTS_ON_CREATE } from './engine-constants.ts'

export interface ProposedEvent {
  /** A UUID string, kept exactly as given. */
  readonly id: string
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly contentType: ContentType
}

export interface StoredEvent {
  readonly stream: string
  readonly revision: bigint
  /** The byte offset of the event's record in the log: its commit and prepare position. */
  readonly position: bigint
  readonly id: string
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly contentType: ContentType
  /** Milliseconds since the Unix epoch (the gRPC layer converts to .NET ticks: ms × 10 000). */
  readonly created: number
}

export type AppendResult =
  | {
      readonly kind: 'ok'
      readonly firstRevision: bigint
      /** The revision of the last event appended (EventStoreDB's "next expected version"). */
      readonly nextRevision: bigint
      /** The position of the last event appended. */
      readonly position: bigint
    }
  | WrongExpectedVersion
  | { readonly kind: 'stream-deleted' }
  | { readonly kind: 'too-big'; readonly max: number }

export interface WrongExpectedVersion {
  readonly kind: 'wrong-expected-version'
  /** undefined: the stream does not exist (or is soft-deleted and has never had events). */
  readonly currentRevision: bigint | undefined
  readonly expected: ExpectedRevision
}

/** The outcome of softDelete and tombstone: the position of the `$metadata` or `$streamDeleted` event. */
export type DeleteResult =
  | { readonly kind: 'ok'; readonly position: bigint }
  | WrongExpectedVersion
  | { readonly kind: 'stream-deleted' }

export interface ReadStreamOptions {
  readonly direction: Direction
  /** Inclusive. 'end' reading forwards yields nothing; 'start' reading backwards yields at most revision 0. */
  readonly fromRevision: 'start' | 'end' | bigint
  readonly maxCount: bigint | number
}

/**
 * `events` is lazy and synchronous (it may be consumed with `for` or `for await`); it holds the events
 * visible when readStream was called, honouring `$tb`, `$maxCount` and `$maxAge` of the stream's metadata.
 */
export type ReadStreamResult =
  | { readonly kind: 'ok'; readonly events: Iterable<StoredEvent> }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'deleted' }

export interface ReadAllOptions {
  readonly direction: Direction
  /** Forwards: inclusive. Backwards: exclusive. A bigint must be an event's position or the end of the log. */
  readonly from: 'start' | 'end' | bigint
  /** Counts matching events only. */
  readonly maxCount: bigint | number
  /** Keep only events for which it returns true; the gRPC layer builds it from the protocol's filter. */
  readonly filter?: (event: StoredEvent) => boolean
}

export interface ReadAllFromOptions {
  /** true: start after `position` (subscriptions); false (default): include an event at `position`. */
  readonly exclusive?: boolean
  /** Events read from the log per page; default 512. */
  readonly pageSize?: number
}

/** Stream metadata as read-time rules see it: the last `$metadata` event of `$$<stream>`. */
export interface StreamMetadata {
  readonly maxCount?: bigint
  /** Seconds. */
  readonly maxAge?: number
  /** Truncate before: events with a lower revision are hidden; DELETED_REVISION means soft-deleted. */
  readonly truncateBefore?: bigint
  /** The whole JSON object as stored ($tb and $maxCount may have lost precision here; use the fields). */
  readonly raw: Readonly<Record<string, unknown>>
}

export interface EngineStats {
  /** Append, softDelete and tombstone calls that wrote events. */
  readonly commits: number
  /** fsync (fdatasync) calls on the log; fewer than commits under concurrency (group commit). */
  readonly fsyncs: number
  readonly events: number
  readonly streams: number
  /** Bytes of event bodies held in the read cache. */
  readonly cacheBytes: number
}

export interface EngineOptions {
  /** Where the log lives; omitted: in memory, gone on close. */
  readonly dataDir?: string
  /** Recovery and lock messages, e.g. "devstore: cut 17 bytes of torn tail at offset 4096". */
  readonly log?: (message: string) => void
  /** Default MAX_APPEND_SIZE. */
  readonly maxAppendSize?: number
  /** Bytes of event bodies cached in memory; default 32 MiB. */
  readonly cacheBytes?: number
  /** For tests: the clock that stamps `created` and judges `$maxAge`. */
  readonly now?: () => number
  /** For tests: the file operations the log goes through (node:fs by default), e.g. a power-cut simulator. */
  readonly fileSystem?: LogFileSystem
}

export interface Engine {
  /**
   * Atomic and durable (fsynced, shared with concurrent appends) before it resolves. A repeat of a recent
   * append resolves with the original result and writes nothing. A soft-deleted stream takes `any` and
   * `no_stream` and continues its revisions. No events: `ok` with nextRevision the current revision and
   * position that of the stream's last event (-1n for none).
   */
  append(stream: string, expected: ExpectedRevision, events: readonly ProposedEvent[]): Promise<AppendResult>
  readStream(stream: string, options: ReadStreamOptions): Promise<ReadStreamResult>
  /** Rejects with InvalidPositionError when `from` is neither an event's position nor the end. */
  readAll(options: ReadAllOptions): Promise<Iterable<StoredEvent>>
  /**
   * Every event from `position` forwards, read lazily from the log a page at a time; it ends when it has
   * reached the head as of that moment (switch to `subscribe` then, skipping positions already seen).
   */
  readAllFrom(position: 'start' | bigint, options?: ReadAllFromOptions): AsyncIterable<StoredEvent>
  /** Soft delete: `$metadata` {"$tb": DELETED_REVISION} in `$$<stream>`; a stream that never existed is WEV. */
  softDelete(stream: string, expected: ExpectedRevision): Promise<DeleteResult>
  /** Hard delete: `$streamDeleted` at DELETED_REVISION; afterwards the stream and `$$<stream>` are gone. */
  tombstone(stream: string, expected: ExpectedRevision): Promise<DeleteResult>
  /** The last durable event of a stream as written (no read-time rules), or undefined when it has none. */
  lastEvent(stream: string): StoredEvent | undefined
  /** The stream's metadata, or undefined when it has none (or `$$<stream>` was tombstoned). */
  getMetadata(stream: string): StreamMetadata | undefined
  /** The target of a `$>` link ("{revision}@{stream}"), if it exists and is visible; undefined otherwise. */
  resolveLink(event: StoredEvent): StoredEvent | undefined
  /** Called after each durable commit, in commit order, with the events it made visible. Returns unsubscribe. */
  subscribe(listener: (events: readonly StoredEvent[]) => void): () => void
  /** The position of the last durable event (the system events make the log never empty). */
  headPosition(): bigint
  /** The last revision of a stream as appends see it (undefined: no stream); DELETED_REVISION if tombstoned. */
  streamRevision(stream: string): bigint | undefined
  stats(): EngineStats
  /** Waits for in-flight commits, then releases the files and the lock. Later calls reject with EngineClosedError. */
  close(): Promise<void>
}
