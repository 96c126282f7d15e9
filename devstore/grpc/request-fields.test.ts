import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeBatchAppendRequest, type DecodedUuid } from './decode-batch-append-request.ts'
import { BatchAppendReq, StreamIdentifier, UUID } from './protocol.ts'
import { RequestRefused } from './request-refused.ts'
import {
  decodedProposedEventOf,
  decodedUuidOf,
  proposedEventOf,
  streamNameOf,
  uuidKeyOf,
  uuidOf,
} from './request-fields.ts'

// A UUID as the client sends it, after a trip through the wire (as the server reads it).
function received(uuid: InstanceType<typeof UUID>): InstanceType<typeof UUID> {
  return UUID.deserializeBinary(uuid.serializeBinary())
}

function structuredUuid(bytes: Uint8Array): InstanceType<typeof UUID> {
  const view = Buffer.from(bytes)
  const structured = new UUID.Structured()
  structured.setMostSignificantBits(view.readBigInt64BE(0).toString())
  structured.setLeastSignificantBits(view.readBigInt64BE(8).toString())
  return received(new UUID().setStructured(structured))
}

function stringUuid(text: string): InstanceType<typeof UUID> {
  return received(new UUID().setString(text))
}

// A correlation id as BatchAppend receives it: decoded from a request's bytes.
function decoded(uuid: InstanceType<typeof UUID>): DecodedUuid {
  return decodeBatchAppendRequest(new BatchAppendReq().setCorrelationId(uuid).serializeBinary())
    .correlationId!
}

function decodedProposed(message: InstanceType<typeof BatchAppendReq.ProposedMessage>) {
  const request = new BatchAppendReq()
  request.addProposedMessages(message)
  // In a Buffer, as grpc-js hands the bytes over.
  return decodeBatchAppendRequest(Buffer.from(request.serializeBinary())).proposedMessages[0]!
}

function formatted(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const uuidBytes = fc.uint8Array({ minLength: 16, maxLength: 16 })

describe('request fields', () => {
  it('formats a structured UUID as its 16 bytes in hex, sign bits included', () =>
    fc.assert(fc.property(uuidBytes, (bytes) => uuidOf(structuredUuid(bytes)) === formatted(bytes))))

  it('formats a UUID as one flat string, which an event the devstore caches keeps for as long as it stays', () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const count = 20_000
    const ids = Array.from({ length: count }, () => decoded(structuredUuid(randomBytes(16))))
    gc()
    const before = process.memoryUsage().heapUsed
    const formattedIds = ids.map((uuid) => decodedUuidOf(uuid))
    gc()
    const perId = (process.memoryUsage().heapUsed - before) / count
    expect(formattedIds[count - 1]).toHaveLength(36)
    // 36 characters, a string's header and the array's slot: ~66 bytes; a rope of its nine pieces took ~370.
    expect(perId).toBeLessThan(100)
  })

  it('reads a decoded UUID as uuidOf reads the message', () =>
    fc.assert(
      fc.property(
        fc.oneof(uuidBytes.map(structuredUuid), fc.string().map(stringUuid), fc.constant(new UUID())),
        (uuid) => decodedUuidOf(decoded(uuid)) === uuidOf(uuid),
      ),
    ))

  it('keys two correlation ids alike exactly when uuidOf reads them alike', () =>
    fc.assert(
      fc.property(
        fc.oneof(uuidBytes.map(structuredUuid), fc.uuid().map(stringUuid)),
        fc.oneof(uuidBytes.map(structuredUuid), fc.uuid().map(stringUuid)),
        (one, other) => {
          const sameForm = one.hasStructured() === other.hasStructured()
          const [oneKey, otherKey] = [uuidKeyOf(decoded(one)), uuidKeyOf(decoded(other))]
          if (sameForm) expect(oneKey === otherKey).toBe(uuidOf(one) === uuidOf(other))
          else expect(oneKey).not.toBe(otherKey)
        },
      ),
    ))

  it('keys the same correlation id alike on every message of a request', () => {
    const bytes = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
    expect(uuidKeyOf(decoded(structuredUuid(bytes)))).toBe(uuidKeyOf(decoded(structuredUuid(bytes))))
  })

  it('refuses a message without a correlation id', () =>
    expect(() => uuidKeyOf(undefined)).toThrow(RequestRefused))

  it('reads a stream name as UTF-8 from within the received message', () =>
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (name) => {
        const identifier = new StreamIdentifier().setStreamName(Buffer.from(name, 'utf8'))
        const message = new BatchAppendReq.Options().setStreamIdentifier(identifier)
        const read = BatchAppendReq.Options.deserializeBinary(message.serializeBinary())
        return streamNameOf(read.getStreamIdentifier()) === name
      }),
    ))

  it('reads a proposed event with its type and content type', () => {
    const message = new BatchAppendReq.ProposedMessage()
      .setId(stringUuid('5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90'))
      .setData(Buffer.from('{"kw":5}'))
    message.getMetadataMap().set('type', 'Charged').set('content-type', 'application/json')
    expect(proposedEventOf(message)).toMatchObject({
      id: '5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90',
      type: 'Charged',
      contentType: 'application/json',
    })
  })

  it('names every missing metadata property of a proposed event', () => {
    const message = new BatchAppendReq.ProposedMessage().setId(stringUuid('a'))
    let refused: unknown
    try {
      proposedEventOf(message)
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(RequestRefused)
    expect((refused as RequestRefused).error.metadata.get('required-metadata-properties')).toEqual([
      'type,content-type',
    ])
  })

  it('reads a decoded proposed event as proposedEventOf reads the message', () => {
    const message = new BatchAppendReq.ProposedMessage()
      .setId(stringUuid('5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90'))
      .setData(Buffer.from('{"kw":5}'))
      .setCustomMetadata(Buffer.from('{"by":"me"}'))
    message.getMetadataMap().set('type', 'Charged').set('content-type', 'application/octet-stream')
    expect(decodedProposedEventOf(decodedProposed(message))).toEqual(proposedEventOf(message))
  })

  it('names every missing metadata property of a decoded proposed event', () => {
    const message = new BatchAppendReq.ProposedMessage().setId(stringUuid('a'))
    expect(() => decodedProposedEventOf(decodedProposed(message))).toThrow(
      'Required metadata properties are missing: type,content-type',
    )
  })
})
