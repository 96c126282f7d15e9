import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import type { ExpectedRevision } from '../engine/engine.ts'
import {
  encodeBatchAppendReply,
  type BatchAppendOutcome,
  type BatchAppendReplyHead,
} from './encode-batch-append-reply.ts'
import type { DecodedUuid } from './decode-batch-append-request.ts'
import {
  AllStreamPosition,
  BatchAppendResp,
  GoogleEmpty,
  Status,
  StreamIdentifier,
  UUID,
} from './protocol.ts'
import {
  maximumAppendSizeStatus,
  notReadyStatus,
  streamDeletedStatus,
  timeoutStatus,
  wrongExpectedVersionStatus,
} from './status-errors.ts'

const UINT64_MAX = 2n ** 64n - 1n
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

// The reply as google-protobuf builds it, message by message (how batch-append.ts built it before).
function reference(head: BatchAppendReplyHead, outcome: BatchAppendOutcome): Uint8Array {
  const message = new BatchAppendResp()
  message.setCorrelationId(protocolUuidOf(head.correlationId))
  message.setStreamIdentifier(identifierOf(head.streamName))
  const expected = head.expected
  if (expected === 'any') message.setAny(new GoogleEmpty())
  else if (expected === 'no_stream') message.setNoStream(new GoogleEmpty())
  else if (expected === 'stream_exists') message.setStreamExists(new GoogleEmpty())
  else message.setStreamPosition(expected.toString())
  if (outcome.kind === 'error') {
    message.setError(Status.deserializeBinary(outcome.status))
  } else {
    const success = new BatchAppendResp.Success()
    if (outcome.revision < 0n) success.setNoStream(new GoogleEmpty())
    else success.setCurrentRevision(outcome.revision.toString())
    if (outcome.position < 0n) success.setNoPosition(new GoogleEmpty())
    else {
      const position = new AllStreamPosition()
      position.setCommitPosition(outcome.position.toString())
      position.setPreparePosition(outcome.position.toString())
      success.setPosition(position)
    }
    message.setSuccess(success)
  }
  return Buffer.from(message.serializeBinary())
}

function bytesOf(head: BatchAppendReplyHead, outcome: BatchAppendOutcome): Uint8Array {
  return Buffer.from(encodeBatchAppendReply(head, outcome).serializeBinary())
}

function stringUuid(text: string): DecodedUuid {
  return { kind: 'string', text }
}

function protocolUuidOf(uuid: DecodedUuid): InstanceType<typeof UUID> {
  const message = new UUID()
  if (uuid.kind === 'string') message.setString(uuid.text)
  else if (uuid.kind === 'structured') {
    const structured = new UUID.Structured()
    structured.setMostSignificantBits(uuid.most.toString())
    structured.setLeastSignificantBits(uuid.least.toString())
    message.setStructured(structured)
  }
  return message
}

function identifierOf(name: Uint8Array): InstanceType<typeof StreamIdentifier> {
  const identifier = new StreamIdentifier()
  identifier.setStreamName(name)
  return identifier
}

const expectedRevision: fc.Arbitrary<ExpectedRevision> = fc.oneof(
  fc.constantFrom('any' as const, 'no_stream' as const, 'stream_exists' as const),
  fc.bigInt(0n, UINT64_MAX),
  fc.bigInt(0n, 300n),
)

const head: fc.Arbitrary<BatchAppendReplyHead> = fc.record({
  correlationId: fc.oneof(
    fc.oneof(fc.uuid(), fc.string({ maxLength: 200 })).map(stringUuid),
    fc
      .tuple(
        fc.oneof(fc.bigInt(INT64_MIN, INT64_MAX), fc.constant(0n)),
        fc.oneof(fc.bigInt(INT64_MIN, INT64_MAX), fc.constant(0n)),
      )
      .map(([most, least]): DecodedUuid => ({ kind: 'structured', most, least })),
    fc.constant<DecodedUuid>({ kind: 'empty' }),
  ),
  streamName: fc.uint8Array({ maxLength: 300 }),
  expected: expectedRevision,
})

const position = fc.oneof(
  fc.constant(-1n),
  fc.constant(0n),
  fc.bigInt(0n, 2n ** 40n),
  fc.bigInt(0n, UINT64_MAX),
)

const outcome: fc.Arbitrary<BatchAppendOutcome> = fc.oneof(
  fc.record({
    kind: fc.constant('success' as const),
    revision: fc.oneof(fc.constant(-1n), fc.constant(0n), fc.bigInt(0n, 1000n), fc.bigInt(0n, UINT64_MAX)),
    position,
  }),
  fc
    .oneof(
      fc.constant(timeoutStatus()),
      fc.constant(notReadyStatus('Append failed (injected fault)')),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }).map(maximumAppendSizeStatus),
      fc.string({ maxLength: 300 }).map(streamDeletedStatus),
      fc
        .tuple(expectedRevision, fc.option(fc.bigInt(0n, UINT64_MAX), { nil: undefined }))
        .map(([expected, actual]) => wrongExpectedVersionStatus(expected, actual)),
    )
    .map((status) => ({ kind: 'error' as const, status: status.serializeBinary() })),
)

describe('encodeBatchAppendReply', () => {
  it('writes the fields the client reads', () => {
    const reply = BatchAppendResp.deserializeBinary(
      bytesOf(
        {
          correlationId: stringUuid('5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90'),
          streamName: Buffer.from('battery-1'),
          expected: 4n,
        },
        { kind: 'success', revision: 5n, position: 4096n },
      ),
    )
    expect(reply.getCorrelationId()!.getString()).toBe('5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90')
    expect(Buffer.from(reply.getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe('battery-1')
    expect(reply.getStreamPosition()).toBe('4')
    const success = reply.getSuccess()!
    expect(success.getCurrentRevision()).toBe('5')
    expect([success.getPosition()!.getCommitPosition(), success.getPosition()!.getPreparePosition()]).toEqual(
      ['4096', '4096'],
    )
  })

  it('carries an error status whole', () => {
    const status = wrongExpectedVersionStatus(3n, 7n)
    const reply = BatchAppendResp.deserializeBinary(
      bytesOf(
        { correlationId: stringUuid('a'), streamName: Buffer.from('s'), expected: 3n },
        { kind: 'error', status: status.serializeBinary() },
      ),
    )
    expect([reply.hasSuccess(), reply.getError()!.getCode(), reply.getError()!.getMessage()]).toEqual([
      false,
      status.getCode(),
      'WrongExpectedVersion',
    ])
  })

  it('writes exactly the bytes google-protobuf writes, whatever the reply', () => {
    fc.assert(
      fc.property(head, outcome, (sent, result) => {
        expect(bytesOf(sent, result)).toEqual(reference(sent, result))
      }),
      { numRuns: 300 },
    )
  })
})
