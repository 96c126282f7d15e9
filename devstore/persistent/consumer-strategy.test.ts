import { describe, expect, it } from 'vitest'
import { ConsumerSelector, type ConsumerSlot } from './consumer-strategy.ts'

const slots = (...capacities: number[]): ConsumerSlot[] =>
  capacities.map((capacity, index) => ({ id: `c${index}`, capacity, inFlight: 0 }))

function pickMany(
  selector: ConsumerSelector,
  consumers: ConsumerSlot[],
  keys: string[],
): (string | undefined)[] {
  return keys.map((key) => {
    const picked = selector.pick(consumers, key)
    if (picked !== undefined) picked.inFlight++
    return picked?.id
  })
}

describe('ConsumerSelector', () => {
  it('rotates over consumers under RoundRobin', () => {
    const picked = pickMany(new ConsumerSelector('RoundRobin'), slots(5, 5), ['a', 'a', 'a', 'a'])
    expect(picked).toEqual(['c0', 'c1', 'c0', 'c1'])
  })

  it('skips full consumers under RoundRobin', () => {
    const picked = pickMany(new ConsumerSelector('RoundRobin'), slots(1, 3), ['a', 'a', 'a', 'a'])
    expect(picked).toEqual(['c0', 'c1', 'c1', 'c1'])
  })

  it('fills the oldest consumer first under DispatchToSingle', () => {
    const picked = pickMany(new ConsumerSelector('DispatchToSingle'), slots(2, 2), ['a', 'b', 'c', 'd', 'e'])
    expect(picked).toEqual(['c0', 'c0', 'c1', 'c1', undefined])
  })

  it('sends one stream to one consumer under Pinned and holds it back when that one is full', () => {
    const consumers = slots(2, 2, 2)
    const selector = new ConsumerSelector('Pinned')
    const picked = pickMany(selector, consumers, ['orders-1', 'orders-1', 'orders-1'])
    expect(picked[0]).toBeDefined()
    expect(picked[1]).toBe(picked[0])
    expect(picked[2]).toBeUndefined()
  })

  it('picks nobody when there are no consumers', () => {
    expect(new ConsumerSelector('RoundRobin').pick([], 'a')).toBeUndefined()
  })
})
