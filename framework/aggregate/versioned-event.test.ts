import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { isVersionedEvent, versionedEvent } from './versioned-event.ts'

const Named = versionedEvent(z.object({ first: z.string(), last: z.string(), title: z.string() }), {
  version: 3,
  upcasters: {
    1: (v1: { name: string }) => ({ first: v1.name.split(' ')[0], last: v1.name.split(' ')[1] }),
    2: (v2: { first: string; last: string }) => ({ ...v2, title: '' }),
  },
})

describe('versionedEvent', () => {
  it('upcasts through every version in turn', () => {
    expect(Named.upcast({ name: 'Ada Lovelace' }, 1)).toEqual({ first: 'Ada', last: 'Lovelace', title: '' })
  })

  it('leaves data at the current version as it is', () => {
    const current = { first: 'Ada', last: 'Lovelace', title: 'Countess' }
    expect(Named.upcast(current, 3)).toBe(current)
  })

  it('refuses a version it does not know', () => {
    expect(() => Named.upcast({}, 4)).toThrow(/unknown version 4/)
    expect(() => Named.upcast({}, 0)).toThrow(/unknown version 0/)
  })

  it('refuses a declaration that lacks an upcaster for an older version', () => {
    expect(() => versionedEvent(z.object({}), { version: 3, upcasters: { 1: (v: unknown) => v } })).toThrow(
      /upcaster from version 2/,
    )
  })

  it('is told apart from a plain schema', () => {
    expect([isVersionedEvent(Named), isVersionedEvent(z.object({}))]).toEqual([true, false])
  })
})
