import { describe, expect, it } from 'vitest'
import { ANNALS_NAMESPACE, deriveEventId, nameBasedUuid } from './derive-event-id.ts'

describe('deriveEventId', () => {
  it('derives the same UUID v5 for the same command id and index', () => {
    expect(deriveEventId('command-1', 0)).toBe(deriveEventId('command-1', 0))
    expect(deriveEventId('command-1', 0)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
  })

  it('derives different ids for other indexes and other command ids, unicode included', () => {
    const ids = new Set([
      deriveEventId('command-1', 0),
      deriveEventId('command-1', 1),
      deriveEventId('command-2', 0),
      deriveEventId('commänd-1', 0),
    ])
    expect(ids.size).toBe(4)
  })

  it('matches the RFC 9562 name-based algorithm (as Python computes uuid5 for the same namespace and name)', () => {
    expect(ANNALS_NAMESPACE).toBe('2772b75e-707b-4ad2-8c08-80001070d22f')
    expect(deriveEventId('x', 0)).toBe('444264d9-8d69-58d5-8b8a-6faa2ce7d9db')
    expect(deriveEventId('commänd-1', 3)).toBe('58a36db6-fb5e-563d-a455-b69474f656fc')
    expect(nameBasedUuid('commänd-1/3')).toBe('58a36db6-fb5e-563d-a455-b69474f656fc')
  })

  it('handles command ids longer than its input buffer', () => {
    const long = 'c'.repeat(1000)
    expect(deriveEventId(long, 0)).toBe(deriveEventId(long, 0))
    expect(deriveEventId('x', 0)).toBe('444264d9-8d69-58d5-8b8a-6faa2ce7d9db')
  })
})
