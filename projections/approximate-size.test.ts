import { describe, expect, it } from 'vitest'
import { approximateSize } from './approximate-size.ts'

describe('approximateSize', () => {
  it('comes near the JSON size of a row, counting its numbers as 8 bytes', () => {
    const units = Object.fromEntries(
      Array.from({ length: 200 }, (_, index) => [
        `battery-${index}`,
        { status: 'idle', capacityKwh: 13.5, maxPowerKw: 5, reservePercent: 20, energyKwh: 7.25 },
      ]),
    )
    const row = { siteId: 'site-1', region: 'north', batteries: 200, faulted: false, tags: ['a', 'b'], units }
    const json = JSON.stringify(row).length
    expect(approximateSize(row)).toBeGreaterThan(json * 0.9)
    expect(approximateSize(row)).toBeLessThan(json * 1.5)
  })

  it('counts strings, keys, numbers, a Date, null and nested arrays', () => {
    expect(approximateSize({ siteId: 'site-1', energyKwh: 5 })).toBe(41)
    expect(approximateSize({ at: new Date(0), none: null, list: [[1, 2], []] })).toBe(80)
  })
})
