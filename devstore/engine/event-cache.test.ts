import { describe, expect, it } from 'vitest'
import { EventCache } from './event-cache.ts'
import type { StoredEvent } from './engine.ts'

const SLAB_BYTES = 8192

/** An event whose data and metadata are small views into a slab, as Node's Buffer pool hands them out. */
function pooledEvent(position: number): StoredEvent {
  const slab = new ArrayBuffer(SLAB_BYTES)
  return {
    stream: `order-${position}`,
    revision: 0n,
    position: BigInt(position),
    id: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
    type: 'OrderPlaced',
    data: new Uint8Array(slab, 0, 100).fill(7),
    metadata: new Uint8Array(slab, 100, 20).fill(1),
    contentType: 'application/json',
    created: 0,
  }
}

/** The bytes of the distinct buffers behind the events the cache still holds. */
function bytesHeld(cache: EventCache, positions: number): number {
  const buffers = new Set<ArrayBufferLike>()
  for (let position = 0; position < positions; position++) {
    const event = cache.get(position)
    if (event) buffers.add(event.data.buffer).add(event.metadata.buffer)
  }
  return [...buffers].reduce((sum, buffer) => sum + buffer.byteLength, 0)
}

describe('the event cache', () => {
  it('holds no more memory than its budget when events are views into larger buffers', () => {
    const budget = 64 * 1024
    const cache = new EventCache(budget)
    for (let position = 0; position < 2000; position++) cache.set(position, pooledEvent(position))
    expect(cache.bytes).toBeLessThanOrEqual(budget)
    expect(bytesHeld(cache, 2000)).toBeGreaterThan(0)
    expect(bytesHeld(cache, 2000)).toBeLessThanOrEqual(budget)
  })

  it('returns the data and metadata it was given', () => {
    const cache = new EventCache(64 * 1024)
    const event = pooledEvent(1)
    cache.set(1, event)
    const cached = cache.get(1)!
    expect([...cached.data]).toEqual([...event.data])
    expect([...cached.metadata]).toEqual([...event.metadata])
    expect(cached).toMatchObject({ stream: event.stream, position: 1n, id: event.id })
  })
})
