/**
 * Arbitrary BatchAppendReq messages, built with google-protobuf as a client builds them, for the decoder's
 * properties; and the check that the decoder refuses bytes as malformed.
 */
import { expect } from 'vitest'
import fc from 'fast-check'
import timestampPb from 'google-protobuf/google/protobuf/timestamp_pb.js'
import { decodeBatchAppendRequest } from '../../devstore/grpc/decode-batch-append-request.ts'
import { MalformedMessageError } from '../../devstore/grpc/protobuf-reader.ts'
import { BatchAppendReq, GoogleEmpty, StreamIdentifier, UUID } from '../../devstore/grpc/protocol.ts'

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
export const UINT64_MAX = 2n ** 64n - 1n

// Strings as a client can send them: whole code points (no lone surrogate), so that they survive UTF-8.
const text = fc.string({ unit: 'grapheme', maxLength: 20 })

const uuid = fc.oneof(
  text.map((value) => new UUID().setString(value)),
  fc.uuid().map((value) => new UUID().setString(value)),
  fc
    .tuple(fc.bigInt(INT64_MIN, INT64_MAX), fc.oneof(fc.bigInt(INT64_MIN, INT64_MAX), fc.constant(0n)))
    .map(([most, least]) =>
      new UUID().setStructured(
        new UUID.Structured()
          .setMostSignificantBits(most.toString())
          .setLeastSignificantBits(least.toString()),
      ),
    ),
  fc.constant(null).map(() => new UUID()),
)

const expected = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('any' as const, 'no_stream' as const, 'stream_exists' as const),
  fc.bigInt(0n, UINT64_MAX),
  fc.bigInt(0n, 1000n),
)

const timestamp = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0, max: 2 ** 33 }), fc.maxSafeInteger(), fc.maxSafeNat()),
    fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.integer()),
  )
  .map(([seconds, nanos]) => new timestampPb.Timestamp().setSeconds(seconds).setNanos(nanos))

const options = fc
  .record({
    name: fc.option(fc.uint8Array({ maxLength: 60 }), { nil: undefined }),
    expected,
    deadline: fc.option(timestamp, { nil: undefined }),
  })
  .map(({ name, expected, deadline }) => {
    const options = new BatchAppendReq.Options()
    if (name !== undefined) options.setStreamIdentifier(new StreamIdentifier().setStreamName(name))
    if (expected === 'any') options.setAny(new GoogleEmpty())
    else if (expected === 'no_stream') options.setNoStream(new GoogleEmpty())
    else if (expected === 'stream_exists') options.setStreamExists(new GoogleEmpty())
    else if (expected !== undefined) options.setStreamPosition(expected.toString())
    if (deadline !== undefined) options.setDeadline(deadline)
    return options
  })

const proposedMessage = fc
  .record({
    id: fc.option(uuid, { nil: undefined }),
    metadata: fc.array(fc.tuple(fc.oneof(fc.constantFrom('type', 'content-type'), text), text), {
      maxLength: 4,
    }),
    customMetadata: fc.uint8Array({ maxLength: 40 }),
    data: fc.uint8Array({ maxLength: 200 }),
  })
  .map(({ id, metadata, customMetadata, data }) => {
    const message = new BatchAppendReq.ProposedMessage().setCustomMetadata(customMetadata).setData(data)
    if (id !== undefined) message.setId(id)
    for (const [key, value] of metadata) message.getMetadataMap().set(key, value)
    return message
  })

/** Any request a client can send: every optional field present or not, up to four proposed messages. */
export const request = fc
  .record({
    correlationId: fc.option(uuid, { nil: undefined }),
    options: fc.option(options, { nil: undefined }),
    proposedMessages: fc.array(proposedMessage, { maxLength: 4 }),
    isFinal: fc.boolean(),
  })
  .map((fields) => {
    const message = new BatchAppendReq().setIsFinal(fields.isFinal)
    if (fields.correlationId !== undefined) message.setCorrelationId(fields.correlationId)
    if (fields.options !== undefined) message.setOptions(fields.options)
    message.setProposedMessagesList(fields.proposedMessages)
    return message
  })

/** The message decodeBatchAppendRequest refuses `bytes` with (the test fails when it decodes them). */
export function malformed(bytes: number[]): string {
  try {
    decodeBatchAppendRequest(Uint8Array.from(bytes))
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedMessageError)
    return (error as Error).message
  }
  throw new Error('decoded malformed bytes')
}
