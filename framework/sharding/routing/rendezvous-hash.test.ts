import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aggregateKey, digest64, rendezvousOwner } from './rendezvous-hash.ts'

const memberUrl = fc.integer({ min: 1, max: 250 }).map((n) => `http://10.0.0.${n}:4000`)
const members = fc.uniqueArray(memberUrl, { minLength: 1, maxLength: 9 })
const keys = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 200 })

describe('rendezvousOwner', () => {
  it('picks the same owner whatever order a replica lists the members in', () => {
    fc.assert(
      fc.property(members, keys, fc.nat(), (list, keyList, shift) => {
        const rotated = [...list.slice(shift % list.length), ...list.slice(0, shift % list.length)]
        const reversed = [...list].reverse()
        for (const key of keyList) {
          const owner = rendezvousOwner(key, list)
          expect(rendezvousOwner(key, rotated)).toBe(owner)
          expect(rendezvousOwner(key, reversed)).toBe(owner)
        }
      }),
    )
  })

  it('moves only the keys of a member that leaves', () => {
    fc.assert(
      fc.property(
        members.filter((l) => l.length >= 2),
        keys,
        fc.nat(),
        (list, keyList, pick) => {
          const gone = list[pick % list.length]!
          const rest = list.filter((m) => m !== gone)
          for (const key of keyList) {
            const before = rendezvousOwner(key, list)
            const after = rendezvousOwner(key, rest)
            if (before !== gone) expect(after).toBe(before)
            else expect(rest).toContain(after)
          }
        },
      ),
    )
  })

  it('moves to a member that joins only the keys it now wins', () => {
    fc.assert(
      fc.property(members, memberUrl, keys, (list, joining, keyList) => {
        fc.pre(!list.includes(joining))
        for (const key of keyList) {
          const before = rendezvousOwner(key, list)
          const after = rendezvousOwner(key, [...list, joining])
          expect(after === before || after === joining).toBe(true)
        }
      }),
    )
  })

  it('spreads 60,000 aggregates over 3 to 10 members within 5% of the fair share', () => {
    for (let size = 3; size <= 10; size++) {
      const list = Array.from({ length: size }, (_, i) => `http://annals-${i}.annals.default.svc:4000`)
      const counts = new Map<string, number>(list.map((m) => [m, 0]))
      const total = 60_000
      for (let i = 0; i < total; i++) {
        const owner = rendezvousOwner(aggregateKey('Battery', `battery-${i}`), list)!
        counts.set(owner, counts.get(owner)! + 1)
      }
      const fair = total / size
      for (const count of counts.values()) expect(Math.abs(count - fair) / fair).toBeLessThan(0.05)
    }
  })

  it('has no owner without members', () => {
    expect(rendezvousOwner('Battery\u0000b-1', [])).toBeUndefined()
  })
})

describe('digest64', () => {
  it('differs between keys that differ in one character', () => {
    const a = digest64('Battery\u0000battery-1')
    const b = digest64('Battery\u0000battery-2')
    expect(a.high === b.high && a.low === b.low).toBe(false)
  })

  it('separates equal ids of different aggregate types', () => {
    expect(aggregateKey('Battery', 'x')).not.toBe(aggregateKey('Site', 'x'))
  })
})
