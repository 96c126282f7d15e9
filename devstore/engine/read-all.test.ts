import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidPositionError } from './engine-errors.ts'
import { openEngine } from './open-engine.ts'
import { SYSTEM_EVENTS_ON_CREATE, type Engine, type StoredEvent } from './engine.ts'
import { many, proposed } from '../../test/devstore/engine-builders.fixture.ts'

let engine: Engine
beforeEach(async () => {
  engine = await openEngine()
})
afterEach(() => engine.close())

async function all(options: Partial<Parameters<Engine['readAll']>[0]> = {}): Promise<StoredEvent[]> {
  return [...(await engine.readAll({ direction: 'forwards', from: 'start', maxCount: 1000, ...options }))]
}

async function collect(iterable: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const events: StoredEvent[] = []
  for await (const event of iterable) events.push(event)
  return events
}

describe('$all', () => {
  it('holds system events in a fresh database', async () => {
    const events = await all()
    expect(events.map((event) => [event.stream, event.type])).toEqual(
      SYSTEM_EVENTS_ON_CREATE.map(({ stream, type }) => [stream, type]),
    )
  })

  it('orders events by strictly increasing positions that are not contiguous', async () => {
    await engine.append('a', 'any', many(3))
    await engine.append('b', 'any', many(2))
    const positions = (await all()).map((event) => event.position)
    for (let i = 1; i < positions.length; i++) expect(positions[i]! - positions[i - 1]!).toBeGreaterThan(1n)
    expect(positions.at(-1)).toBe(engine.headPosition())
  })

  it('includes the position read forwards from and excludes it read backwards', async () => {
    await engine.append('a', 'any', many(3))
    const [, second, third] = (await all()).filter((event) => event.stream === 'a')
    expect((await all({ from: second!.position, maxCount: 2 })).map((event) => event.position)).toEqual([
      second!.position,
      third!.position,
    ])
    const backwards = await all({ direction: 'backwards', from: third!.position, maxCount: 1 })
    expect(backwards.map((event) => event.position)).toEqual([second!.position])
  })

  it('reads backwards from the end starting with the last event', async () => {
    await engine.append('a', 'any', many(2))
    const [last] = await all({ direction: 'backwards', from: 'end', maxCount: 1 })
    expect(last?.position).toBe(engine.headPosition())
  })

  it('rejects a position that is not an event position', async () => {
    await engine.append('a', 'any', many(1))
    await expect(
      engine.readAll({ direction: 'forwards', from: engine.headPosition() + 1n, maxCount: 1 }),
    ).rejects.toThrow(InvalidPositionError)
  })

  it('keeps events matching the filter, counting only those against maxCount', async () => {
    await engine.append('a', 'any', [
      proposed({ type: 'X' }),
      proposed({ type: 'Y' }),
      proposed({ type: 'X' }),
    ])
    const events = await all({ filter: (event) => event.type === 'X', maxCount: 2 })
    expect(events.map((event) => event.type)).toEqual(['X', 'X'])
  })

  it('does not show an append before it is durable', async () => {
    const appending = engine.append('a', 'any', many(1))
    expect((await all()).some((event) => event.stream === 'a')).toBe(false)
    await appending
    expect((await all()).some((event) => event.stream === 'a')).toBe(true)
  })
})

describe('readAllFrom', () => {
  it('pages through every event after a position, exclusive when asked', async () => {
    await engine.append('a', 'any', many(10))
    const from = (await all())[3]!.position
    const events = await collect(engine.readAllFrom(from, { exclusive: true, pageSize: 3 }))
    expect(events[0]?.position).toBeGreaterThan(from)
    expect(events).toHaveLength((await all()).length - 4)
  })

  it('starts inclusive from an event position by default, and from the start', async () => {
    await engine.append('a', 'any', many(2))
    const events = await all()
    expect(await collect(engine.readAllFrom(events[1]!.position))).toHaveLength(events.length - 1)
    expect(await collect(engine.readAllFrom('start'))).toHaveLength(events.length)
  })
})

describe('the live feed', () => {
  it('delivers each durable commit in order, after which the append resolves', async () => {
    const seen: string[][] = []
    const unsubscribe = engine.subscribe((events) => seen.push(events.map((event) => event.stream)))
    await engine.append('a', 'any', many(2))
    expect(seen.flat()).toEqual(['a', 'a'])
    await Promise.all([engine.append('b', 'any', many(1)), engine.append('c', 'any', many(1))])
    unsubscribe()
    await engine.append('d', 'any', many(1))
    expect(seen.flat()).toEqual(['a', 'a', 'b', 'c'])
  })

  it('moves headPosition to the last durable event', async () => {
    const result = await engine.append('a', 'any', many(2))
    expect(result.kind === 'ok' && result.position).toBe(engine.headPosition())
  })
})

describe('links', () => {
  it('resolve to the event they point at', async () => {
    await engine.append('order-1', 'any', many(3))
    await engine.append('orders', 'any', [{ ...proposed({ type: '$>' }), data: Buffer.from('1@order-1') }])
    const [link] = (await all()).filter((event) => event.type === '$>')
    expect(engine.resolveLink(link!)).toMatchObject({ stream: 'order-1', revision: 1n })
  })

  it('resolve to nothing when the target is gone or hidden', async () => {
    await engine.append('order-1', 'any', many(3))
    await engine.append('$$order-1', 'any', [proposed({ type: '$metadata', json: { $maxCount: 1 } })])
    const link = (revision: string) => ({ ...proposed({ type: '$>' }), data: Buffer.from(revision) })
    await engine.append('orders', 'any', [
      link('1@order-1'),
      link('9@order-1'),
      link('0@nowhere'),
      link('junk'),
    ])
    const links = (await all()).filter((event) => event.type === '$>')
    expect(links.map((event) => engine.resolveLink(event))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
  })
})
