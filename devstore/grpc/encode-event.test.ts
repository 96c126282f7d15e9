import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { DELETED_REVISION, type Engine, type StoredEvent } from '../engine/engine.ts'
import { encodeEvent, type EncodeOptions } from './encode-event.ts'
import { ReadResp } from './protocol.ts'

const plain: EncodeOptions = { structuredUuids: false, withCommitPosition: true, resolveLinks: false }
const noLinks = { resolveLink: () => undefined } as unknown as Engine

function stored(overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    stream: 'battery-1',
    revision: 3n,
    position: 4096n,
    id: '5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90',
    type: 'Charged',
    data: Buffer.from('{"kw":5}'),
    metadata: Buffer.from('{"by":"ann"}'),
    contentType: 'application/json',
    created: 1_764_000_000_123,
    ...overrides,
  }
}

function bytesOf(message: ReadResp): Uint8Array {
  return Buffer.from(message.serializeBinary())
}

// What google-protobuf writes for the message the bytes decode to: a canonical encoding reads back unchanged.
function reencoded(bytes: Uint8Array): Uint8Array {
  return Buffer.from(ReadResp.deserializeBinary(bytes).serializeBinary())
}

describe('encodeEvent', () => {
  it('writes the fields the client reads', () => {
    const bytes = bytesOf(encodeEvent(noLinks, stored(), plain))
    const event = ReadResp.deserializeBinary(bytes).getEvent()!
    const recorded = event.getEvent()!
    expect(recorded.getId()!.getString()).toBe('5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90')
    expect(Buffer.from(recorded.getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe('battery-1')
    expect(recorded.getStreamRevision()).toBe('3')
    expect([recorded.getPreparePosition(), recorded.getCommitPosition(), event.getCommitPosition()]).toEqual([
      '4096',
      '4096',
      '4096',
    ])
    expect(Object.fromEntries(recorded.getMetadataMap().entries())).toEqual({
      type: 'Charged',
      'content-type': 'application/json',
      created: '17640000001230000',
    })
    expect(Buffer.from(recorded.getData_asU8()).toString()).toBe('{"kw":5}')
    expect(Buffer.from(recorded.getCustomMetadata_asU8()).toString()).toBe('{"by":"ann"}')
    expect(event.hasLink()).toBe(false)
  })

  it('writes exactly the bytes google-protobuf writes, whatever the event', () => {
    const event = fc.record({
      stream: fc.string({ maxLength: 300 }),
      revision: fc.oneof(fc.bigInt(0n, 2n ** 53n + 5n), fc.constant(DELETED_REVISION)),
      position: fc.bigInt(0n, 2n ** 52n),
      id: fc.uuid(),
      type: fc.string({ maxLength: 200 }),
      data: fc.uint8Array({ maxLength: 300 }),
      metadata: fc.uint8Array({ maxLength: 200 }),
      contentType: fc.constantFrom('application/json' as const, 'application/octet-stream' as const),
      created: fc.integer({ min: 0, max: 2 ** 45 }),
    })
    const options = fc.record({
      structuredUuids: fc.boolean(),
      withCommitPosition: fc.boolean(),
      resolveLinks: fc.constant(false),
    })
    fc.assert(
      fc.property(event, options, (stored, encoding) => {
        const bytes = bytesOf(encodeEvent(noLinks, stored, encoding))
        expect(bytes).toEqual(reencoded(bytes))
      }),
      { numRuns: 200 },
    )
  })

  it('writes structured UUIDs as the two signed halves', () => {
    const options = { ...plain, structuredUuids: true }
    const bytes = bytesOf(
      encodeEvent(noLinks, stored({ id: 'ffffffff-ffff-ffff-0000-000000000001' }), options),
    )
    const bits = ReadResp.deserializeBinary(bytes).getEvent()!.getEvent()!.getId()!.getStructured()!
    expect([bits.getMostSignificantBits(), bits.getLeastSignificantBits()]).toEqual(['-1', '1'])
  })

  it('says no_position on a stream read', () => {
    const options = { ...plain, withCommitPosition: false }
    const event = ReadResp.deserializeBinary(bytesOf(encodeEvent(noLinks, stored(), options))).getEvent()!
    expect([event.hasNoPosition(), event.hasCommitPosition()]).toEqual([true, false])
  })

  it('resolves a link into the event and keeps the link beside it', () => {
    const target = stored({ stream: 'battery-2', revision: 0n, position: 100n })
    const engine = { resolveLink: () => target } as unknown as Engine
    const link = stored({ stream: '$ce-battery', type: '$>', data: Buffer.from('0@battery-2') })
    const options = { ...plain, resolveLinks: true }
    const bytes = bytesOf(encodeEvent(engine, link, options))
    const event = ReadResp.deserializeBinary(bytes).getEvent()!
    expect(Buffer.from(event.getEvent()!.getStreamIdentifier()!.getStreamName_asU8()).toString()).toBe(
      'battery-2',
    )
    expect(event.getLink()!.getMetadataMap().get('type')).toBe('$>')
    expect(bytes).toEqual(reencoded(bytes))
  })

  it('sends an unresolvable link as a link without an event', () => {
    const link = stored({ type: '$>', data: Buffer.from('0@gone') })
    const bytes = bytesOf(encodeEvent(noLinks, link, { ...plain, resolveLinks: true }))
    const event = ReadResp.deserializeBinary(bytes).getEvent()!
    expect([event.hasEvent(), event.hasLink()]).toEqual([false, true])
  })
})
