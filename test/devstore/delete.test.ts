import {
  NO_STREAM,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, failure, readAll, readStream, streamName } from './fixtures.ts'

describe('soft delete', () => {
  it('writes $metadata {"$tb": int64 max} to $$<stream>, after which reads say stream not found', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    const deleted = await client.deleteStream(stream)
    expect(deleted.position).toBeDefined()
    expect(await failure(readStream(client, stream))).toBeInstanceOf(StreamNotFoundError)
    const inAll = (await readAll(client)).filter((resolved) => resolved.event!.streamId === `$$${stream}`)
    expect(inAll.at(-1)!.event).toMatchObject({ type: '$metadata' })
    expect(JSON.stringify(inAll.at(-1)!.event!.data)).toContain('"$tb"')
  })

  it('lets a later append continue the revisions, showing only the new events', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    await client.deleteStream(stream)
    const result = await client.appendToStream(stream, event('Again'))
    expect(result.nextExpectedRevision).toBe(2n)
    const read = await readStream(client, stream)
    expect(read.map((resolved) => [resolved.event!.revision, resolved.event!.type])).toEqual([[2n, 'Again']])
  })

  it('deletes a stream that holds only metadata with expected revision NO_STREAM', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.setStreamMetadata(stream, { maxCount: 5 })
    const deleted = await client.deleteStream(stream, { expectedRevision: NO_STREAM })
    expect(deleted.position).toBeDefined()
    expect(await failure(readStream(client, stream))).toBeInstanceOf(StreamNotFoundError)
  })

  it('refuses to delete a stream that never existed with WrongExpectedVersion', async () => {
    const { client } = await connected()
    const error = await failure(client.deleteStream(streamName()))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
  })

  it('fails with FAILED_PRECONDITION and the version trailers when the expected revision is wrong', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    const error = await failure(client.deleteStream(stream, { expectedRevision: 0n }))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
    expect(error).toMatchObject({ code: 9, streamName: stream, expectedVersion: 0n, actualVersion: 2n })
  })
})

describe('tombstone', () => {
  it('appends $streamDeleted at revision int64 max', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(1))
    await client.tombstoneStream(stream)
    const tomb = (await readAll(client)).filter((resolved) => resolved.event!.streamId === stream).at(-1)
    expect(tomb!.event).toMatchObject({ type: '$streamDeleted', revision: 9223372036854775807n })
  })

  it('makes reads, appends, deletes and tombstones fail with stream-deleted', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(1))
    await client.tombstoneStream(stream)
    for (const attempt of [
      () => readStream(client, stream),
      () => client.appendToStream(stream, event()),
      () =>
        client.appendToStream(stream, event(), { credentials: { username: 'admin', password: 'changeit' } }),
      () => client.deleteStream(stream),
      () => client.tombstoneStream(stream),
    ]) {
      const error = await failure(attempt)
      expect(error).toBeInstanceOf(StreamDeletedError)
      expect(error).toMatchObject({ streamName: stream })
    }
  })

  it('makes a subscription to the stream fail with stream-deleted', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(1))
    await client.tombstoneStream(stream)
    const subscription = client.subscribeToStream(stream)
    const error = await new Promise((resolve) => subscription.on('error', resolve))
    expect(error).toBeInstanceOf(StreamDeletedError)
  })

  it('succeeds on a stream that never existed', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.tombstoneStream(stream, { expectedRevision: NO_STREAM })
    expect(await failure(client.appendToStream(stream, event()))).toBeInstanceOf(StreamDeletedError)
  })
})
