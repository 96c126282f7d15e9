import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  eventTypeFilter,
  FORWARDS,
  jsonEvent,
  START,
  StreamNotFoundError,
  type JSONType,
} from '@eventstore/db-client'
import { AnnalsError } from '../errors.ts'
import { EsdbSubscriptionQueue } from './esdb-subscription-queue.ts'
import { iterateEsdbRead } from './iterate-esdb-read.ts'
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
import { mapEsdbError } from './map-esdb-error.ts'
import { isRecord, positionOf, toRecordedEvent } from './to-recorded-event.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A connection string (`esdb://127.0.0.1:2113?tls=false`) or a client the caller owns and closes. */
export type EventStoreDbConnection = string | { readonly client: EventStoreDBClient }

/**
 * The EventStore port over EventStoreDB (or KurrentDB, or the devstore) through @eventstore/db-client.
 * Events and metadata are stored as JSON; revisions and positions are bigints (a position is the commit
 * position). `close()` disposes the client only when this store created it. Subscriptions report `caughtUp`
 * when the server sends caught_up (the devstore and EventStoreDB 23.10+; older servers never do) and a
 * `checkpoint` for each filter checkpoint; they and readAll (unless told otherwise) leave out `$`-streams.
 *
 * @example
 * const store = createEventStoreDbStore(process.env.EVENTSTORE_URL ?? 'esdb://127.0.0.1:2113?tls=false')
 * await store.appendToStream('battery-1', [{ id: randomUUID(), type: 'BatteryInstalled', data: { kwh: 13 } }])
 */
export function createEventStoreDbStore(connection: EventStoreDbConnection): EventStore {
  const ownsClient = typeof connection === 'string'
  const client = ownsClient ? connect(connection) : connection.client

  async function appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options: { readonly expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const badId = events.find((event) => !UUID.test(event.id))
    if (badId) throw new AnnalsError('BAD_INPUT', `Event id "${badId.id}" is not a UUID`)
    try {
      const result = await client.appendToStream(
        streamName,
        events.map((event) =>
          jsonEvent({
            id: event.id,
            type: event.type,
            data: event.data as JSONType,
            ...(event.metadata === undefined ? {} : { metadata: event.metadata }),
          }),
        ),
        { expectedRevision: options.expectedRevision ?? 'any' },
      )
      const position = result.position?.commit ?? (await lastPositionOf(streamName))
      return { nextRevision: result.nextExpectedRevision, position }
    } catch (error) {
      throw mapEsdbError(error, { action: `append to ${streamName}`, streamName })
    }
  }

  async function* readStream(
    streamName: string,
    options: ReadStreamOptions = {},
  ): AsyncIterable<RecordedEvent> {
    const direction = options.direction ?? 'forwards'
    const from = options.fromRevision ?? (direction === 'forwards' ? 'start' : 'end')
    if (options.maxCount !== undefined && options.maxCount <= 0) return
    const read = client.readStream(streamName, {
      direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
      fromRevision: from === 'start' ? START : from === 'end' ? END : from,
      ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
    })
    try {
      for await (const resolved of iterateEsdbRead(read, options.maxCount)) {
        const event = toRecordedEvent(resolved)
        if (event) yield event
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return
      throw mapEsdbError(error, { action: `read ${streamName}`, streamName })
    }
  }

  async function* readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    const direction = options.direction ?? 'forwards'
    const from = options.fromPosition ?? (direction === 'forwards' ? 'start' : 'end')
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER
    if (maxCount <= 0) return
    const excludeSystem = options.excludeSystemEvents ?? true
    const types = options.eventTypes ? new Set(options.eventTypes) : undefined
    const filtered = excludeSystem || types !== undefined
    const read = client.readAll({
      direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
      fromPosition: from === 'start' ? START : from === 'end' ? END : { commit: from, prepare: from },
      // Without a client-side filter the server can stop at maxCount; with one, read until enough match.
      maxCount: filtered ? Number.MAX_SAFE_INTEGER : maxCount,
    })
    let yielded = 0
    try {
      for await (const resolved of iterateEsdbRead(read, filtered ? undefined : maxCount)) {
        const event = toRecordedEvent(resolved)
        if (!event) continue
        if (excludeSystem && event.streamName.startsWith('$')) continue
        if (types && !types.has(event.type)) continue
        yield event
        yielded += 1
        if (yielded >= maxCount) return
      }
    } catch (error) {
      throw mapEsdbError(error, { action: 'read $all' })
    }
  }

  async function* subscribeToAll(options: SubscribeToAllOptions = {}): AsyncIterable<SubscriptionMessage> {
    const { signal } = options
    if (signal?.aborted) return
    const queue = new EsdbSubscriptionQueue((resolved) => {
      const event = toRecordedEvent(resolved)
      return event && !event.streamName.startsWith('$') ? { kind: 'event', event } : undefined
    })
    const from = options.fromPosition ?? 'start'
    const subscription = client.subscribeToAll({
      fromPosition: from === 'start' ? START : { commit: from, prepare: from },
      filter: eventTypeFilter({
        regex: eventTypeRegex(options.eventTypes),
        checkpointReached: (self, position) =>
          queue.mark(self, { kind: 'checkpoint', position: position.commit }),
      }),
    })
    queue.attach(subscription)
    // Cancel the call at once: a consumer that aborts may never ask for the next message.
    const onAbort = () => {
      queue.stop()
      void subscription.unsubscribe()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        const message = await queue.take()
        if (message === undefined) return
        yield message
      }
    } catch (error) {
      throw mapEsdbError(error, { action: 'subscribe to $all' })
    } finally {
      signal?.removeEventListener('abort', onAbort)
      queue.stop()
      await subscription.unsubscribe()
    }
  }

  async function headPosition(): Promise<bigint> {
    try {
      let head = 0n
      const read = client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })
      for await (const resolved of iterateEsdbRead(read)) head = positionOf(resolved) ?? head
      return head
    } catch (error) {
      throw mapEsdbError(error, { action: 'read the head of $all' })
    }
  }

  async function lastPositionOf(streamName: string): Promise<bigint> {
    for await (const event of readStream(streamName, { direction: 'backwards', maxCount: 1 })) {
      return event.position
    }
    return 0n
  }

  async function getStreamMetadata(streamName: string): Promise<StreamMetadata | undefined> {
    for await (const event of readStream(metastreamOf(streamName), { direction: 'backwards', maxCount: 1 })) {
      return isRecord(event.data) ? event.data : undefined
    }
    return undefined
  }

  async function setStreamMetadata(streamName: string, metadata: StreamMetadata): Promise<void> {
    try {
      await client.appendToStream(
        metastreamOf(streamName),
        jsonEvent({ type: '$metadata', data: { ...metadata } }),
      )
    } catch (error) {
      throw mapEsdbError(error, { action: `set the metadata of ${streamName}`, streamName })
    }
  }

  async function close(): Promise<void> {
    if (ownsClient) await client.dispose()
  }

  return {
    appendToStream,
    readStream,
    readAll,
    subscribeToAll,
    headPosition,
    getStreamMetadata,
    setStreamMetadata,
    close,
  }
}

function connect(connectionString: string): EventStoreDBClient {
  try {
    return EventStoreDBClient.connectionString(connectionString)
  } catch (error) {
    throw new AnnalsError('BAD_CONFIG', `Invalid EventStoreDB connection string: ${String(error)}`, {
      cause: error,
    })
  }
}

/** Matches the given event types exactly, or every type not starting with `$` (EventStoreDB's system types). */
function eventTypeRegex(eventTypes: readonly string[] | undefined): string {
  if (eventTypes === undefined) return '^[^$]'
  if (eventTypes.length === 0) return '^(?!)'
  return `^(?:${eventTypes.map(escapeRegex).join('|')})$`
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function metastreamOf(streamName: string): string {
  return `$$${streamName}`
}
