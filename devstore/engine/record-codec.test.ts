import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeRecord, encodeRecord, hashBytes, hashId, isChecksumValid } from './record-codec.ts'

const event = fc.record({
  stream: fc.string({ maxLength: 100, unit: 'grapheme' }),
  revision: fc.bigInt(0n, 2n ** 63n - 1n),
  id: fc.oneof(fc.uuid(), fc.string({ maxLength: 60, unit: 'grapheme' })),
  type: fc.string({ maxLength: 100, unit: 'grapheme' }),
  data: fc.uint8Array({ maxLength: 200 }),
  metadata: fc.uint8Array({ maxLength: 100 }),
  contentType: fc.constantFrom('application/json' as const, 'application/octet-stream' as const),
  created: fc.integer({ min: 0, max: 2 ** 45 }),
})

describe('record codec', () => {
  it('decodes every field of the record it encodes, under a valid checksum', () => {
    fc.assert(
      fc.property(event, fc.boolean(), (written, endOfCommit) => {
        const record = encodeRecord(written, endOfCommit)
        expect(isChecksumValid(record, 0, record.readUInt32LE(0))).toBe(true)
        const read = decodeRecord(record, 0, 7n)
        expect({ ...read, data: [...read.data], metadata: [...read.metadata] }).toEqual({
          ...written,
          position: 7n,
          data: [...written.data],
          metadata: [...written.metadata],
        })
      }),
      { numRuns: 200 },
    )
  })

  it('fingerprints an id as FNV-1a of its UTF-8 bytes, as recovery computes it from the log', () => {
    const ids = [
      '5b0a2f57-3c1e-4a8e-9f1d-2b7c6d4e8a90',
      '',
      'order-17',
      'café',
      '電池-1',
      '🔋',
      'a\ud800b',
      '\u007f\u0080',
    ]
    for (const id of ids) {
      const bytes = Buffer.from(id, 'utf8')
      expect(hashId(id)).toBe(hashBytes(bytes, 0, bytes.length))
    }
  })
})
