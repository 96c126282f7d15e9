import { randomUUID } from 'node:crypto'
import { DeadlineExceededError, EventStoreDBClient, jsonEvent } from '@eventstore/db-client'
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js'
import { afterEach, describe, expect, it } from 'vitest'
import { openEngine } from '../engine/open-engine.ts'
import type { Engine } from '../engine/engine.ts'
import { FaultState } from '../faults.ts'
import { BatchAppendReq, BatchAppendResp, GoogleEmpty, StreamIdentifier, UUID } from './protocol.ts'
import { startDevStoreServer, type DevStoreServer } from './server.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** A devstore whose engine holds appends to `held-` streams until released: a slow disk, for certain. */
async function storeWithHeldAppends() {
  const engine = await openEngine()
  const gates: (() => void)[] = []
  const holding: Engine = Object.create(engine, {
    append: {
      value: async (...args: Parameters<Engine['append']>) => {
        if (args[0].startsWith('held-')) await new Promise<void>((resolve) => gates.push(resolve))
        return engine.append(...args)
      },
    },
  }) as Engine
  const server: DevStoreServer = await startDevStoreServer({
    engine: holding,
    host: '127.0.0.1',
    port: 0,
    faults: new FaultState(),
  })
  const client = EventStoreDBClient.connectionString(`esdb://127.0.0.1:${server.port}?tls=false`)
  cleanups.push(async () => {
    for (const release of gates) release()
    await client.dispose()
    await server.close()
    await engine.close()
  })
  return {
    client,
    engine,
    port: server.port,
    release: () => gates.splice(0).forEach((release) => release()),
  }
}

/**
 * One BatchAppend call that sends raw bytes, as a client with another protobuf library (or a broken one)
 * would: resolves with the replies and how the call ended.
 */
function rawBatchAppend(port: number, messages: readonly Uint8Array[]) {
  const raw = new Client(`127.0.0.1:${port}`, credentials.createInsecure())
  cleanups.push(() => Promise.resolve(raw.close()))
  const call = raw.makeBidiStreamRequest(
    '/event_store.client.streams.Streams/BatchAppend',
    (bytes: Uint8Array) => Buffer.from(bytes),
    (bytes: Buffer) => BatchAppendResp.deserializeBinary(bytes),
  )
  const replies: InstanceType<typeof BatchAppendResp>[] = []
  const ended = new Promise<ServiceError | 'ok'>((resolve) => {
    call.on('data', (reply: InstanceType<typeof BatchAppendResp>) => replies.push(reply))
    call.on('error', resolve)
    call.on('end', () => resolve('ok'))
  })
  for (const message of messages) call.write(message)
  call.end()
  return ended.then((end) => ({ end, replies }))
}

function appendRequest(stream: string) {
  const proposed = new BatchAppendReq.ProposedMessage()
    .setId(new UUID().setString(randomUUID()))
    .setData(Buffer.from('{"kw":5}'))
  proposed.getMetadataMap().set('type', 'Charged').set('content-type', 'application/json')
  const request = new BatchAppendReq()
    .setCorrelationId(new UUID().setString(randomUUID()))
    .setOptions(
      new BatchAppendReq.Options()
        .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(stream)))
        .setAny(new GoogleEmpty()),
    )
    .setIsFinal(true)
  request.addProposedMessages(proposed)
  return request
}

// Fields no version of the protocol knows: 100 a varint, 101 a fixed64, 102 bytes, 103 a group holding
// a varint (104), 105 a fixed32.
const UNKNOWN_FIELDS = Buffer.from(
  'a006ffff03' + 'a9060102030405060708' + 'b206026162' + 'bb06c00664bc06' + 'cd0601020304',
  'hex',
)

const event = () => jsonEvent({ type: 'Charged', data: { kw: 5 } })

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('BatchAppend deadlines', () => {
  it('answers Timeout when the engine answers after the deadline, and only that request', async () => {
    const { client, engine, release } = await storeWithHeldAppends()
    const held = `held-${randomUUID()}`
    const timedOut = failure(client.appendToStream(held, event(), { deadline: 150 }))
    const other = await client.appendToStream(`free-${randomUUID()}`, event(), { deadline: 5_000 })
    expect(other.success).toBe(true)
    expect(await timedOut).toBeInstanceOf(DeadlineExceededError)
    // The engine still finishes what it was given, as EventStoreDB's write goes on past a client's timeout.
    release()
    await expect
      .poll(
        async () =>
          (await engine.readStream(held, { direction: 'forwards', fromRevision: 'start', maxCount: 10n }))
            .kind,
      )
      .toBe('ok')
  })

  it('times out a later request with an earlier deadline first, and answers the earlier one when the engine does', async () => {
    const { client, release } = await storeWithHeldAppends()
    const patient = client.appendToStream(`held-${randomUUID()}`, event(), { deadline: 10_000 })
    const hasty = await failure(client.appendToStream(`held-${randomUUID()}`, event(), { deadline: 100 }))
    expect(hasty).toBeInstanceOf(DeadlineExceededError)
    release()
    expect((await patient).success).toBe(true)
  })
})

describe('BatchAppend requests on the wire', () => {
  it('appends a request carrying fields it does not know, skipping them', async () => {
    const { client, port } = await storeWithHeldAppends()
    const stream = `free-${randomUUID()}`
    const request = appendRequest(stream)
    const { end, replies } = await rawBatchAppend(port, [
      Buffer.concat([request.serializeBinary(), UNKNOWN_FIELDS]),
    ])
    expect([end, replies.length, replies[0]?.hasSuccess()]).toEqual(['ok', 1, true])
    const read = []
    for await (const resolved of client.readStream(stream)) read.push(resolved.event?.type)
    expect(read).toEqual(['Charged'])
  })

  it('echoes the correlation id as it was sent, in either form', async () => {
    const { port } = await storeWithHeldAppends()
    const structured = new UUID.Structured()
      .setMostSignificantBits('-81985529216486896')
      .setLeastSignificantBits('81985529216486895')
    const sent = [new UUID().setStructured(structured), new UUID().setString(randomUUID()), new UUID()]
    const requests = sent.map((id) => appendRequest(`free-${randomUUID()}`).setCorrelationId(id))
    const { end, replies } = await rawBatchAppend(
      port,
      requests.map((request) => request.serializeBinary()),
    )
    expect(end).toBe('ok')
    const echoed = (id: InstanceType<typeof UUID> | undefined) => id?.toObject()
    expect(new Set(replies.map((reply) => JSON.stringify(echoed(reply.getCorrelationId()))))).toEqual(
      new Set(sent.map((id) => JSON.stringify(echoed(id)))),
    )
  })

  it('ends a call whose bytes are malformed with INVALID_ARGUMENT, and serves the other calls', async () => {
    const { client, port } = await storeWithHeldAppends()
    const valid = appendRequest(`free-${randomUUID()}`).serializeBinary()
    const { end } = await rawBatchAppend(port, [valid.subarray(0, valid.length - 3)])
    expect(end).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^Invalid BatchAppendReq: Malformed protobuf: /) as unknown,
    })
    const other = await client.appendToStream(`free-${randomUUID()}`, event())
    expect(other.success).toBe(true)
  })
})
