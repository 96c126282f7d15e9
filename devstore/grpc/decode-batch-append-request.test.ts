import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodeBatchAppendRequest,
  type DecodedBatchAppendRequest,
  type DecodedUuid,
} from './decode-batch-append-request.ts'
import { BatchAppendReq, StreamIdentifier, UUID } from './protocol.ts'
import { UINT64_MAX, malformed, request } from '../../test/support/batch-append-request.fixture.ts'

// What the decoder reads of well-formed bytes, known fields or not: what google-protobuf reads. The bytes it
// refuses are specified in decode-batch-append-request-malformed.test.ts.

type Request = InstanceType<typeof BatchAppendReq>
type Options = InstanceType<typeof BatchAppendReq.Options>
type ProposedMessage = InstanceType<typeof BatchAppendReq.ProposedMessage>

// What google-protobuf's deserializer reads from the same bytes, in the decoder's shape.
function reference(bytes: Uint8Array): DecodedBatchAppendRequest {
  const message = BatchAppendReq.deserializeBinary(bytes)
  const options = message.getOptions()
  return {
    correlationId: uuidOf(message.getCorrelationId()),
    options: options && {
      streamIdentifier: options.hasStreamIdentifier()
        ? { streamName: options.getStreamIdentifier()!.getStreamName_asU8() }
        : undefined,
      expected: expectedOf(options),
      deadline: options.hasDeadline()
        ? { seconds: options.getDeadline()!.getSeconds(), nanos: options.getDeadline()!.getNanos() }
        : undefined,
    },
    proposedMessages: message.getProposedMessagesList().map((proposed) => ({
      id: uuidOf(proposed.getId()),
      metadata: new Map(proposed.getMetadataMap().getEntryList()),
      customMetadata: proposed.getCustomMetadata_asU8(),
      data: proposed.getData_asU8(),
    })),
    isFinal: message.getIsFinal(),
  }
}

function uuidOf(uuid: InstanceType<typeof UUID> | undefined): DecodedUuid | undefined {
  if (uuid === undefined) return undefined
  const structured = uuid.getStructured()
  if (structured !== undefined) {
    const [most, least] = [structured.getMostSignificantBits(), structured.getLeastSignificantBits()]
    return { kind: 'structured', most: BigInt(most), least: BigInt(least) }
  }
  return uuid.hasString() ? { kind: 'string', text: uuid.getString() } : { kind: 'empty' }
}

function expectedOf(options: Options) {
  const cases = BatchAppendReq.Options.ExpectedStreamPositionCase
  switch (options.getExpectedStreamPositionCase()) {
    case cases.STREAM_POSITION:
      return BigInt(options.getStreamPosition())
    case cases.NO_STREAM:
      return 'no_stream' as const
    case cases.ANY:
      return 'any' as const
    case cases.STREAM_EXISTS:
      return 'stream_exists' as const
    default:
      return undefined
  }
}

/** Fields no version of the protocol knows (numbers from 100 up), of every wire type, groups nested. */
const unknownFields: fc.Arbitrary<Uint8Array> = fc.letrec<{ fields: Uint8Array }>((tie) => ({
  fields: fc
    .array(
      fc.tuple(
        fc.integer({ min: 100, max: 2 ** 29 - 1 }),
        fc.oneof(
          { depthSize: 'small' },
          fc.bigInt(0n, UINT64_MAX).map((value) => ({ wireType: 0, body: varint(value) })),
          fc.uint8Array({ minLength: 8, maxLength: 8 }).map((body) => ({ wireType: 1, body })),
          fc
            .uint8Array({ maxLength: 20 })
            .map((bytes) => ({ wireType: 2, body: concat(varint(BigInt(bytes.length)), bytes) })),
          tie('fields').map((body) => ({ wireType: 3, body })),
          fc.uint8Array({ minLength: 4, maxLength: 4 }).map((body) => ({ wireType: 5, body })),
        ),
      ),
      { maxLength: 3 },
    )
    .map((fields) =>
      concat(
        ...fields.map(([field, { wireType, body }]) =>
          wireType === 3 ? concat(tag(field, 3), body, tag(field, 4)) : concat(tag(field, wireType), body),
        ),
      ),
    ),
})).fields

function varint(value: bigint): Uint8Array {
  const bytes: number[] = []
  for (; value >= 0x80n; value >>= 7n) bytes.push(Number(value & 0x7fn) | 0x80)
  bytes.push(Number(value))
  return Uint8Array.from(bytes)
}

function tag(field: number, wireType: number): Uint8Array {
  return varint(BigInt(field * 8 + wireType))
}

// A plain Uint8Array, as serializeBinary gives.
function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** A submessage field with `extra` bytes after the message's own. */
function field(number: number, message: Uint8Array, extra: Uint8Array): Uint8Array {
  const body = concat(message, extra)
  return concat(tag(number, 2), varint(BigInt(body.length)), body)
}

/** The request's bytes with unknown fields in it and in each of its submessages. */
function withUnknownFields(message: Request, extra: () => Uint8Array): Uint8Array {
  const bare = BatchAppendReq.deserializeBinary(message.serializeBinary())
  const options = bare.getOptions()
  const proposed: ProposedMessage[] = bare.getProposedMessagesList()
  bare.clearOptions()
  bare.clearProposedMessagesList()
  return concat(
    extra(),
    bare.serializeBinary(),
    options === undefined ? extra() : field(2, options.serializeBinary(), extra()),
    ...proposed.map((one) => field(3, one.serializeBinary(), extra())),
  )
}

describe('decodeBatchAppendRequest', () => {
  it('reads what google-protobuf reads, whatever the request', () =>
    fc.assert(
      fc.property(request, (message) => {
        const bytes = message.serializeBinary()
        expect(decodeBatchAppendRequest(bytes)).toEqual(reference(bytes))
      }),
      { numRuns: 400 },
    ))

  it('skips unknown fields of every wire type, in the request and in each of its messages', () =>
    fc.assert(
      fc.property(request, fc.infiniteStream(unknownFields), (message, extras) => {
        const bytes = withUnknownFields(message, () => extras.next().value as Uint8Array)
        expect(decodeBatchAppendRequest(bytes)).toEqual(reference(message.serializeBinary()))
      }),
      { numRuns: 200 },
    ))

  it('skips groups nested as deep as protobuf allows', () => {
    const nested = (depth: number) =>
      [...Array<number[]>(depth).fill([0xa3, 0x06]), ...Array<number[]>(depth).fill([0xa4, 0x06])].flat()
    expect(decodeBatchAppendRequest(Uint8Array.from([...nested(100), 0x20, 0x01])).isFinal).toBe(true)
    expect(malformed(nested(101))).toMatch(/groups nested deeper than 100/)
  })

  it('skips a known field sent with another wire type', () => {
    // is_final as bytes, then correlation_id as a varint: neither is read.
    const decoded = decodeBatchAppendRequest(Uint8Array.from([0x22, 0x01, 0x01, 0x08, 0x05]))
    expect([decoded.isFinal, decoded.correlationId]).toEqual([false, undefined])
  })

  it('lets the last of the expected revision fields win, as the oneof does', () => {
    const bytes = Uint8Array.from([0x12, 0x04, 0x10, 0x07, 0x1a, 0x00])
    expect(decodeBatchAppendRequest(bytes).options?.expected).toBe('no_stream')
    expect(reference(bytes).options?.expected).toBe('no_stream')
  })

  it('reads stream names and data as views on the received bytes', () => {
    const message = new BatchAppendReq().setOptions(
      new BatchAppendReq.Options().setStreamIdentifier(
        new StreamIdentifier().setStreamName(Buffer.from('battery-1')),
      ),
    )
    const bytes = message.serializeBinary()
    expect(decodeBatchAppendRequest(bytes).options?.streamIdentifier?.streamName.buffer).toBe(bytes.buffer)
  })
})
