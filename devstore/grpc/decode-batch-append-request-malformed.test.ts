import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { status } from '@grpc/grpc-js'
import { decodeBatchAppendRequest, receiveBatchAppendRequest } from './decode-batch-append-request.ts'
import { MalformedMessageError } from './protobuf-reader.ts'
import { RequestRefused } from './request-refused.ts'
import { malformed, request } from '../../test/support/batch-append-request.fixture.ts'

// Bytes that are not a request: refused with a MalformedMessageError that says what broke, which the call
// answers with INVALID_ARGUMENT; never another failure.

describe('decodeBatchAppendRequest', () => {
  it('refuses bytes that break the wire format, saying what broke', () => {
    expect(malformed([0x0a, 0x05, 0x12])).toMatch(/a length past the end of the message/)
    expect(malformed([0x20, 0x80])).toMatch(/a truncated varint/)
    expect(malformed([0x20, ...Array<number>(10).fill(0xff), 0x01])).toMatch(/longer than 10 bytes/)
    expect(malformed([0x00, 0x01])).toMatch(/an invalid field tag/)
    expect(malformed([0x0e])).toMatch(/wire type 6/)
    expect(malformed([0x0f])).toMatch(/wire type 7/)
    expect(malformed([0xa3, 0x06, 0x08, 0x01])).toMatch(/an unterminated group 100/)
    expect(malformed([0xa3, 0x06, 0xac, 0x06])).toMatch(/an end of group 101 inside group 100/)
    expect(malformed([0xa4, 0x06])).toMatch(/an end of group without its start/)
    expect(malformed([0xa1, 0x06, 0x00, 0x00])).toMatch(/a fixed-size field past the end/)
    // A submessage's field may not run past the submessage's end, though the request goes on.
    expect(malformed([0x12, 0x02, 0x0a, 0x05, 0x20, 0x01, 0x20, 0x01, 0x20])).toMatch(/past the end/)
  })

  it('reads a truncated request or refuses it as malformed, never failing otherwise', () =>
    fc.assert(
      fc.property(request, fc.nat(), (message, cut) => {
        const bytes = message.serializeBinary()
        if (bytes.length === 0) return
        const prefix = bytes.subarray(0, cut % bytes.length)
        try {
          decodeBatchAppendRequest(prefix)
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedMessageError)
        }
      }),
      { numRuns: 300 },
    ))

  it('throws nothing but MalformedMessageError, whatever the bytes', () =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeBatchAppendRequest(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedMessageError)
        }
      }),
      { numRuns: 500 },
    ))
})

describe('receiveBatchAppendRequest', () => {
  it('turns malformed bytes into an INVALID_ARGUMENT refusal', () => {
    const received = receiveBatchAppendRequest(Uint8Array.from([0x0a, 0x05]))
    expect(received).toBeInstanceOf(RequestRefused)
    expect((received as RequestRefused).error).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'Invalid BatchAppendReq: Malformed protobuf: a length past the end of the message at byte 2',
    })
  })
})
