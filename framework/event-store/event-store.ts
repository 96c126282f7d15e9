/**
 * The EventStore port: what the framework needs from an event store, and nothing more. Adapters:
 * createInMemoryEventStore (unit tests) and createEventStoreDbStore (EventStoreDB, KurrentDB, the devstore).
 * Revisions and positions are bigints; a position is the event's commit position in `$all`.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint

export interface EventToAppend {
  /** A UUID; fixed by the command id (see proposeEvent) so a retried append is recognised and written once. */
  readonly id: string
  readonly type: string
  readonly data: unknown
  readonly metadata?: Readonly<Record<string, unknown>>
}

export interface RecordedEvent {
  readonly streamName: string
  readonly id: string
  readonly type: string
  readonly revision: bigint
  readonly position: bigint
  readonly data: unknown
  readonly metadata: Readonly<Record<string, unknown>>
  readonly createdAt: Date
}

export interface AppendResult {
  /** The revision of the last event appended (or already there, for an idempotent retry). */
  readonly nextRevision: bigint
  /** The `$all` position of that event: the consistency token. */
  readonly position: bigint
  /**
   * The `$all` position of each event appended, in order, when the store's reply gives them (the in-memory
   * store does; EventStoreDB's reply gives only the last); absent, a caller that needs them reads them back.
   */
  readonly positions?: readonly bigint[]
}

export interface ReadStreamOptions {
  readonly direction?: 'forwards' | 'backwards'
  /** Inclusive. Defaults to the start (forwards) or the end (backwards). */
  readonly fromRevision?: bigint | 'start' | 'end'
  readonly maxCount?: number
}

export interface ReadAllOptions {
  readonly direction?: 'forwards' | 'backwards'
  /** Forwards: inclusive; backwards: exclusive (as EventStoreDB does). */
  readonly fromPosition?: bigint | 'start' | 'end'
  readonly maxCount?: number
  readonly eventTypes?: readonly string[]
  /** Leave out events of streams whose name starts with `$`. Default true. */
  readonly excludeSystemEvents?: boolean
}

export interface SubscribeToAllOptions {
  /** Exclusive: the subscription delivers events after this position. */
  readonly fromPosition?: bigint | 'start'
  /** Only events of these types; omitted means every non-system event. */
  readonly eventTypes?: readonly string[]
  /** Aborting ends the iteration cleanly. */
  readonly signal?: AbortSignal
}

/**
 * What a subscription yields. `caughtUp` marks the switch from history to live (it can come again after a
 * slow consumer fell behind); `checkpoint` reports a position considered, so a filtered consumer can advance
 * its checkpoint past events it does not handle.
 */
export type SubscriptionMessage =
  | { readonly kind: 'event'; readonly event: RecordedEvent }
  | { readonly kind: 'caughtUp' }
  | { readonly kind: 'checkpoint'; readonly position: bigint }

export type StreamMetadata = Readonly<Record<string, unknown>> & {
  readonly $maxCount?: number
  readonly $maxAge?: number
}

export interface EventStore {
  /** Appends atomically; throws ConcurrencyConflictError, StreamDeletedError or StoreUnavailableError. */
  appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options?: { readonly expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>
  /** A stream that does not exist (or was soft-deleted) yields nothing. */
  readStream(streamName: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>
  /** Catch-up then live. Ends when the signal aborts; throws when the store drops it (resubscribe from the last position). */
  subscribeToAll(options?: SubscribeToAllOptions): AsyncIterable<SubscriptionMessage>
  /** The position of the last event in `$all` (0n for an empty store): the head, for lag. */
  headPosition(): Promise<bigint>
  getStreamMetadata(streamName: string): Promise<StreamMetadata | undefined>
  setStreamMetadata(streamName: string, metadata: StreamMetadata): Promise<void>
  close(): Promise<void>
}
