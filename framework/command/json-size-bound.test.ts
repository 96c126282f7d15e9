import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonSizeBound } from './json-size-bound.ts'

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value))

describe('jsonSizeBound', () => {
  it('is never below the UTF-8 bytes of the JSON text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonSizeBound(value, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(bytesOf(value))
      }),
      { numRuns: 500 },
    )
  })

  it('bounds the longest numbers, those below 1e-6 written in full', () => {
    // Found by the property above: 25 characters, one more than the exponent form.
    for (const value of ['-1.0783980584970492e-6', '-1.2345678901234567e308', '-1.2345678901234567e-7'].map(
      Number,
    )) {
      expect(jsonSizeBound(value, Number.MAX_SAFE_INTEGER), String(value)).toBeGreaterThanOrEqual(
        bytesOf(value),
      )
    }
  })

  it('counts escaped control characters and characters outside ASCII', () => {
    for (const text of ['\u0000\u001f"\\', 'é€😀', '\n\t']) {
      expect(jsonSizeBound({ text }, 10_000)).toBeGreaterThanOrEqual(bytesOf({ text }))
    }
  })

  it('measures what toJSON returns, as JSON.stringify does', () => {
    const at = new Date('2026-11-24T12:00:00Z')
    expect(jsonSizeBound({ at }, 10_000)).toBeGreaterThanOrEqual(bytesOf({ at }))
  })

  it('gives Infinity once the bound passes the limit, without walking the rest', () => {
    expect(jsonSizeBound({ text: 'x'.repeat(1000) }, 100)).toBe(Infinity)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(jsonSizeBound(cyclic, 1_000_000)).toBe(Infinity)
  })
})
