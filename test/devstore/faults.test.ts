import { once } from 'node:events'
import { CancelledError, DeadlineExceededError, UnavailableError } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import {
  connected,
  event,
  events,
  failure,
  readStream,
  retryUnavailable,
  streamName,
  temporaryDataDir,
} from './fixtures.ts'

const credentials = { username: 'admin', password: 'changeit' }

describe('failNextAppends', () => {
  it('refuses the next BatchAppend request as not ready, writing nothing, then appends again', async () => {
    const { client, store } = await connected()
    const stream = streamName()
    store.faults.failNextAppends(1)
    // Answered on its own request (status UNAVAILABLE, Timeout detail): the client has no per-request
    // "unavailable" and reads it as DeadlineExceededError, which callers retry like UnavailableError.
    expect(await failure(client.appendToStream(stream, event()))).toBeInstanceOf(DeadlineExceededError)
    await client.appendToStream(stream, event())
    expect(await readStream(client, stream)).toHaveLength(1)
  })

  it('fails the next Append calls with UNAVAILABLE', async () => {
    const { client, store } = await connected()
    const stream = streamName()
    store.faults.failNextAppends(2)
    expect(await failure(client.appendToStream(stream, event(), { credentials }))).toBeInstanceOf(
      UnavailableError,
    )
    expect(await failure(client.appendToStream(stream, event(), { credentials }))).toBeInstanceOf(
      UnavailableError,
    )
    await client.appendToStream(stream, event(), { credentials })
    expect(await readStream(client, stream)).toHaveLength(1)
  })
})

describe('delayReplies', () => {
  it('holds every reply back, so a call with a shorter deadline times out, until it is turned off', async () => {
    const { client, store } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, event())
    store.faults.delayReplies(1_000)
    const error = await failure(client.deleteStream(stream, { deadline: 100 }))
    expect(error).toBeInstanceOf(DeadlineExceededError)
    store.faults.delayReplies(0)
    await client.deleteStream(stream, { deadline: 1_000 })
  })
})

describe('dropAllSubscriptions', () => {
  it('ends open subscriptions with UNAVAILABLE, after which the client can subscribe again', async () => {
    const { client, store } = await connected()
    const subscription = client.subscribeToAll()
    await once(subscription, 'caughtUp')
    const dropped = once(subscription, 'error')
    store.faults.dropAllSubscriptions()
    const [error] = (await dropped) as [unknown]
    expect(error).toBeInstanceOf(UnavailableError)
    const again = client.subscribeToStream(streamName())
    await once(again, 'caughtUp')
    await again.unsubscribe()
  })
})

describe('restart', () => {
  it('comes back on the same port with the same data, and the client carries on', async () => {
    const { client, store } = await connected({ dataDir: await temporaryDataDir() })
    const stream = streamName()
    const before = await client.appendToStream(stream, events(3))
    await store.faults.restart()
    const read = await retryUnavailable(() => readStream(client, stream))
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([0n, 1n, 2n])
    expect(read[2]!.event!.position).toEqual(before.position)
    const after = await retryUnavailable(() =>
      client.appendToStream(stream, event(), { expectedRevision: 2n }),
    )
    expect(after.nextExpectedRevision).toBe(3n)
  })

  it('keeps the data of an in-memory devstore across a restart', async () => {
    const { client, store } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    await store.faults.restart()
    expect(await retryUnavailable(() => readStream(client, stream))).toHaveLength(2)
  })
})

describe('shutdown', () => {
  it('ends an open BatchAppend call with CANCELLED', async () => {
    const { client, store } = await connected()
    await client.appendToStream(streamName(), event())
    store.faults.delayReplies(5_000)
    const held = store.faults.nextHeldReply()
    const pending = failure(client.appendToStream(streamName(), event()))
    await held
    await store.close()
    expect(await pending).toBeInstanceOf(CancelledError)
  })

  it('answers an in-flight unary append with UNAVAILABLE', async () => {
    const { client, store } = await connected()
    await client.appendToStream(streamName(), event(), { credentials })
    store.faults.delayReplies(5_000)
    const held = store.faults.nextHeldReply()
    const pending = failure(client.appendToStream(streamName(), event(), { credentials }))
    await held
    await store.close()
    expect(await pending).toBeInstanceOf(UnavailableError)
  })
})
