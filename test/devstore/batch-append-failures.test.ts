import {
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  StreamNotFoundError,
  UnknownError,
  WrongExpectedVersionError,
  jsonEvent,
  type EventStoreDBClient,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, failure, readStream, streamName } from './fixtures.ts'

// EventStoreDB answers each BatchAppend request with its own response, so one request's failure answers
// that request only: the other appends in flight on the same client (the same BatchAppend call) succeed.

const GOOD_APPENDS = 6

/** Appends one event to each of `streams` at once on the same client; the settled outcomes, in order. */
function appendAll(client: EventStoreDBClient, streams: readonly string[]) {
  return Promise.allSettled(streams.map((stream) => client.appendToStream(stream, event())))
}

async function expectOneEventIn(client: EventStoreDBClient, streams: readonly string[]): Promise<void> {
  for (const stream of streams) expect(await readStream(client, stream)).toHaveLength(1)
}

async function expectNoStream(client: EventStoreDBClient, stream: string): Promise<void> {
  expect(await failure(readStream(client, stream))).toBeInstanceOf(StreamNotFoundError)
}

/** An event the devstore's log cannot hold (a type over 65,535 bytes): the engine throws on its append. */
function unstorable() {
  return jsonEvent({ type: 'T'.repeat(70_000), data: {} })
}

/** A client whose BatchAppend call is open, so the appends under test share it. */
async function warmClient(options: Parameters<typeof connected>[0] = {}) {
  const setup = await connected(options)
  await setup.client.appendToStream(streamName('warm-up'), event())
  return setup
}

describe('one failing BatchAppend request', () => {
  it('fails alone when the server refuses it as not ready; the appends in flight beside it succeed', async () => {
    const { client, store } = await warmClient()
    const streams = Array.from({ length: GOOD_APPENDS + 1 }, () => streamName())
    // The refused request is answered at once; the others wait, so they are in flight when it is.
    store.faults.failNextAppends(1)
    store.faults.delayReplies(100)
    const outcomes = await appendAll(client, streams)
    store.faults.delayReplies(0)
    const refused = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [index] : []))
    expect(refused).toHaveLength(1)
    const [index] = refused as [number]
    expect((outcomes[index] as PromiseRejectedResult).reason).toBeInstanceOf(DeadlineExceededError)
    await expectNoStream(client, streams[index]!)
    await expectOneEventIn(
      client,
      streams.filter((_, other) => other !== index),
    )
  })

  it('leaves the appends in flight on another client untouched', async () => {
    // The client keeps pending BatchAppend requests in one map per process and fails them all when any of
    // its calls ends in an error: a failing request that ended its call would fail this client's too.
    const { client, store, connect } = await warmClient()
    const other = connect()
    await other.appendToStream(streamName('warm-up'), event())
    const streams = Array.from({ length: GOOD_APPENDS }, () => streamName())
    store.faults.delayReplies(50)
    const [outcome, good] = await Promise.all([
      failure(client.appendToStream(streamName(), unstorable())),
      appendAll(other, streams),
    ])
    store.faults.delayReplies(0)
    expect(outcome).toBeInstanceOf(UnknownError)
    expect(good.every((settled) => settled.status === 'fulfilled')).toBe(true)
    await expectOneEventIn(other, streams)
  })

  it('appends nothing, so a retry with the same event id appends the event once', async () => {
    const { client, store } = await warmClient()
    const stream = streamName()
    const once = event('Happened', { n: 1 })
    store.faults.failNextAppends(1)
    expect(await failure(client.appendToStream(stream, once))).toBeInstanceOf(DeadlineExceededError)
    await client.appendToStream(stream, once)
    await client.appendToStream(stream, once)
    expect(await readStream(client, stream)).toHaveLength(1)
  })

  it('fails alone when it is over the append size limit', async () => {
    const { client, store } = await warmClient()
    const streams = Array.from({ length: GOOD_APPENDS }, () => streamName())
    const big = streamName()
    store.faults.delayReplies(50)
    const oversized = client.appendToStream(
      big,
      jsonEvent({ type: 'Big', data: { blob: 'x'.repeat(1_100_000) } }),
    )
    const [outcome, good] = await Promise.all([failure(oversized), appendAll(client, streams)])
    store.faults.delayReplies(0)
    expect(outcome).toBeInstanceOf(MaxAppendSizeExceededError)
    expect(good.every((settled) => settled.status === 'fulfilled')).toBe(true)
    await expectNoStream(client, big)
    await expectOneEventIn(client, streams)
  })

  it('fails alone when the engine throws on it; the call carries on', async () => {
    const { client, store } = await warmClient()
    const streams = Array.from({ length: GOOD_APPENDS }, () => streamName())
    const odd = streamName()
    store.faults.delayReplies(50)
    const [outcome, good] = await Promise.all([
      failure(client.appendToStream(odd, unstorable())),
      appendAll(client, streams),
    ])
    store.faults.delayReplies(0)
    expect(outcome).toBeInstanceOf(UnknownError)
    expect(good.every((settled) => settled.status === 'fulfilled')).toBe(true)
    await expectNoStream(client, odd)
    await expectOneEventIn(client, streams)
    await client.appendToStream(odd, event())
    expect(await readStream(client, odd)).toHaveLength(1)
  })

  it('fails alone on a wrong expected revision', async () => {
    const { client } = await warmClient()
    const streams = Array.from({ length: GOOD_APPENDS }, () => streamName())
    const taken = streamName()
    await client.appendToStream(taken, event())
    const [outcome, good] = await Promise.all([
      failure(client.appendToStream(taken, event(), { expectedRevision: 'no_stream' })),
      appendAll(client, streams),
    ])
    expect(outcome).toBeInstanceOf(WrongExpectedVersionError)
    expect(good.every((settled) => settled.status === 'fulfilled')).toBe(true)
    await expectOneEventIn(client, [taken, ...streams])
  })
})
