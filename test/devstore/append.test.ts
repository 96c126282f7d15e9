import { randomUUID } from 'node:crypto'
import {
  ANY,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NO_STREAM,
  STREAM_EXISTS,
  WrongExpectedVersionError,
  jsonEvent,
  type AppendExpectedRevision,
  type AppendToStreamOptions,
  type EventStoreDBClient,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, failure, readAll, readStream, streamName } from './fixtures.ts'

// Per-call credentials make the client take Streams.Append instead of BatchAppend.
const paths = [
  { name: 'BatchAppend', options: {} },
  { name: 'Append', options: { credentials: { username: 'admin', password: 'changeit' } } },
] as const

describe.each(paths)('appending through $name', ({ options: pathOptions }) => {
  const append = (
    client: EventStoreDBClient,
    stream: string,
    appended: Parameters<EventStoreDBClient['appendToStream']>[1],
    expectedRevision: AppendExpectedRevision = ANY,
    extra: AppendToStreamOptions = {},
  ) => client.appendToStream(stream, appended, { ...pathOptions, ...extra, expectedRevision })

  it('appends at the expected revision and replies with the new revision and the last position', async () => {
    const { client } = await connected()
    const stream = streamName()
    const first = await append(client, stream, events(2), NO_STREAM)
    const second = await append(client, stream, events(1), 1n)
    expect(first.nextExpectedRevision).toBe(1n)
    expect(second.nextExpectedRevision).toBe(2n)
    const read = await readStream(client, stream)
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([0n, 1n, 2n])
    expect(read[2]!.event!.position).toEqual(second.position)
    expect(read[1]!.event!.position).toEqual(first.position)
  })

  it('gives every event a log position with commit == prepare, strictly increasing', async () => {
    const { client } = await connected()
    await append(client, streamName(), events(3))
    await append(client, streamName(), events(3))
    const positions = (await readAll(client)).map((resolved) => resolved.event!.position)
    for (const position of positions) expect(position.commit).toBe(position.prepare)
    for (let index = 1; index < positions.length; index++) {
      expect(positions[index]!.commit).toBeGreaterThan(positions[index - 1]!.commit)
    }
  })

  it('refuses an expected revision ahead of the stream with WrongExpectedVersion', async () => {
    const { client } = await connected()
    const stream = streamName()
    await append(client, stream, events(2))
    const error = await failure(append(client, stream, events(1), 5n))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
    expect(error).toMatchObject({ streamName: stream, expectedVersion: 5n, actualVersion: 1n })
  })

  it('refuses no_stream on a stream that exists, with other events', async () => {
    const { client } = await connected()
    const stream = streamName()
    await append(client, stream, events(1))
    const error = await failure(append(client, stream, events(1), NO_STREAM))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
    expect(error).toMatchObject({ expectedVersion: NO_STREAM, actualVersion: 0n })
  })

  it('refuses stream_exists on a stream that does not exist', async () => {
    const { client } = await connected()
    const error = await failure(append(client, streamName(), events(1), STREAM_EXISTS))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
    expect(error).toMatchObject({ actualVersion: NO_STREAM })
  })

  it('repeats an append at an old revision idempotently when the ids match the stored events', async () => {
    const { client } = await connected()
    const stream = streamName()
    const batch = events(2)
    const original = await append(client, stream, batch, NO_STREAM)
    await append(client, stream, events(1), 1n)
    const repeated = await append(client, stream, batch, NO_STREAM)
    const repeatedExact = await append(client, stream, batch.slice(1), 0n)
    expect(repeated).toEqual(original)
    expect(repeatedExact).toEqual(original)
    expect(await readStream(client, stream)).toHaveLength(3)
  })

  it('refuses an append at an old revision whose ids differ from the stored events', async () => {
    const { client } = await connected()
    const stream = streamName()
    await append(client, stream, events(3))
    const error = await failure(append(client, stream, events(1), 0n))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
    expect(error).toMatchObject({ expectedVersion: 0n, actualVersion: 2n })
  })

  it('repeats an append with expected any idempotently when all its ids were just written', async () => {
    const { client } = await connected()
    const stream = streamName()
    const batch = events(2)
    const original = await append(client, stream, batch)
    const repeated = await append(client, stream, batch)
    expect(repeated).toEqual(original)
    expect(await readStream(client, stream)).toHaveLength(2)
  })

  it('refuses a repeat with expected any when only its first id is known', async () => {
    const { client } = await connected()
    const stream = streamName()
    const [first] = events(1)
    await append(client, stream, [first!])
    const error = await failure(append(client, stream, [first!, event()]))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
  })

  it('appends normally with expected any when the first id is new', async () => {
    const { client } = await connected()
    const stream = streamName()
    const known = event()
    await append(client, stream, [known])
    await append(client, stream, [event(), known])
    expect(await readStream(client, stream)).toHaveLength(3)
  })

  it('refuses an append over 1,048,576 bytes with maximum-append-size-exceeded', async () => {
    const { client } = await connected()
    const big = jsonEvent({ type: 'Big', data: { blob: 'x'.repeat(1_100_000) } })
    const error = await failure(append(client, streamName(), big))
    expect(error).toBeInstanceOf(MaxAppendSizeExceededError)
    expect(error).toMatchObject({ maxAppendSize: 1_048_576 })
  })

  it('keeps the event id the client chose', async () => {
    const { client } = await connected()
    const stream = streamName()
    const id = randomUUID()
    await append(client, stream, event('Happened', {}, id))
    const [read] = await readStream(client, stream)
    expect(read!.event!.id).toBe(id)
  })
})

describe('BatchAppend', () => {
  it('answers interleaved requests on one long-lived call, each by its correlation id', async () => {
    const { client } = await connected()
    const streams = Array.from({ length: 20 }, () => streamName())
    const results = await Promise.all(
      streams.flatMap((stream) => [
        client.appendToStream(stream, events(2)),
        client.appendToStream(stream, events(1)),
      ]),
    )
    expect(results.every((result) => result.success)).toBe(true)
    for (const stream of streams) {
      expect((await readStream(client, stream)).map((resolved) => resolved.event!.revision)).toEqual([
        0n,
        1n,
        2n,
      ])
    }
  })

  it('joins a request split over several messages into one append', async () => {
    const { client } = await connected()
    const stream = streamName()
    const result = await client.appendToStream(stream, events(50), { batchAppendSize: 200 })
    expect(result.nextExpectedRevision).toBe(49n)
    expect(await readStream(client, stream)).toHaveLength(50)
  })

  it('answers a request whose deadline has passed with a Timeout', async () => {
    const { client, store } = await connected()
    await client.appendToStream(streamName(), event())
    // Held replies make the deadline pass for certain; a bare 1 ms deadline raced a fast in-memory append.
    store.faults.delayReplies(500)
    const error = await failure(client.appendToStream(streamName(), event(), { deadline: 50 }))
    expect(error).toBeInstanceOf(DeadlineExceededError)
    store.faults.delayReplies(0)
  })
})
