import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { EventCache } from './event-cache.ts'
import type { StoredEvent } from './engine.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** The heap and the buffers outside it in use, after full collections. */
function memoryInUse(): number {
  gc()
  gc()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

/** An event as an append hands it over: flat strings, its data and metadata views into the request's frame. */
function appendedEvent(position: number, frame: Buffer, dataBytes: number): StoredEvent {
  const at = (position * 512) % (frame.length - 2_048)
  return {
    stream: `Battery-${position % 1_000}`,
    revision: BigInt(position),
    position: BigInt(position * 300),
    // A flat copy: randomUUID's own string is a rope, which the devstore's decoder does not make.
    id: Buffer.from(randomUUID(), 'latin1').toString('latin1'),
    type: ['TelemetryReported', 'ChargingStarted'][position % 2]!.split('').join(''),
    data: frame.subarray(at, at + dataBytes),
    metadata: frame.subarray(at + dataBytes, at + dataBytes + 120),
    contentType: 'application/json',
    created: Date.now(),
  }
}

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

  it.each([60, 400, 2_000])(
    'counts what its entries really take (within 15 percent) for events of %i data bytes',
    (dataBytes) => {
      const frame = Buffer.alloc(1 << 20, 7)
      const before = memoryInUse()
      const cache = new EventCache(2 ** 40)
      const count = 40_000
      for (let position = 0; position < count; position++)
        cache.set(position, appendedEvent(position, frame, dataBytes))
      const taken = memoryInUse() - before
      expect(cache.get(count - 1)).toBeDefined()
      expect(taken / cache.bytes).toBeGreaterThan(0.85)
      expect(taken / cache.bytes).toBeLessThan(1.15)
    },
  )

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
