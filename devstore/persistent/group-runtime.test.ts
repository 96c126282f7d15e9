import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Engine, StoredEvent } from '../engine/engine.ts'
import { openEngine } from '../engine/open-engine.ts'
import { DamagedRecordError } from '../engine/engine-errors.ts'
import { many } from '../../test/devstore/engine-builders.fixture.ts'
import type { ConsumerConnection } from './group-runtime.ts'
import { GroupRuntime } from './group-runtime.ts'
import { ALL_STREAM, defaultGroupSettings, type GroupDefinition } from './group-settings.ts'
import type { PersistentError } from './persistent-errors.ts'

// What the client cannot see of a group that reaches a damaged record (test/devstore/persistent-damaged.test.ts
// drives the rest): it reads the record once, not again on its ticker or when new events wake it, and once
// more when a consumer joins again. Record 1 of stream `s` reads as damaged, through a stream or `$all`.

const DAMAGED = { stream: 's', revision: 1n }
const engines: Engine[] = []

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
})

afterEach(async () => {
  vi.useRealTimers()
  for (const engine of engines.splice(0)) await engine.close()
})

/** An in-memory engine holding three events in `s`, whose record 1 fails as damaged; counts its reads. */
async function damagedEngine(): Promise<{ engine: Engine; reads: () => number }> {
  const real = await openEngine()
  engines.push(real)
  await real.append(DAMAGED.stream, 'no_stream', many(3))
  let reads = 0
  const readStream: Engine['readStream'] = async (stream, options) => {
    const result = await real.readStream(stream, options)
    if (stream !== DAMAGED.stream || result.kind !== 'ok') return result
    reads++
    return { kind: 'ok', events: { [Symbol.iterator]: () => failAtDamage(result.events) } }
  }
  const readAllFrom: Engine['readAllFrom'] = (position, options) => {
    reads++
    return failAtDamageAsync(real.readAllFrom(position, options))
  }
  const engine = new Proxy(real, {
    get(target, key) {
      if (key === 'readStream') return readStream
      if (key === 'readAllFrom') return readAllFrom
      const value: unknown = Reflect.get(target, key)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
  return { engine, reads: () => reads }
}

function* failAtDamage(events: Iterable<StoredEvent>): Generator<StoredEvent> {
  for (const event of events) yield checked(event)
}

async function* failAtDamageAsync(events: AsyncIterable<StoredEvent>): AsyncGenerator<StoredEvent> {
  for await (const event of events) yield checked(event)
}

function checked(event: StoredEvent): StoredEvent {
  if (event.stream === DAMAGED.stream && event.revision === DAMAGED.revision)
    throw new DamagedRecordError('(in memory)', Number(event.position))
  return event
}

/** A consumer's call as the runtime sees it: what it was sent and how it ended. */
function consumer(id: string) {
  const sent: string[] = []
  let ended: { error: PersistentError | undefined } | undefined
  let endedCall: () => void = () => undefined
  const whenEnded = new Promise<void>((resolve) => (endedCall = resolve))
  const connection: ConsumerConnection = {
    id,
    from: '127.0.0.1',
    username: 'admin',
    name: id,
    joined: () => undefined,
    send: (response) => sent.push(response.getEvent()?.getEvent()?.getId()?.getString() ?? ''),
    end: (error) => {
      ended = { error }
      endedCall()
    },
  }
  return { connection, sent, whenEnded, ended: () => ended }
}

const definitionOf = (stream: string): GroupDefinition => ({
  stream,
  group: 'workers',
  startFrom: { kind: 'start' },
  ...(stream === ALL_STREAM ? { filter: { on: 'stream', prefixes: [DAMAGED.stream] } } : {}),
  settings: defaultGroupSettings,
})

describe.each([DAMAGED.stream, ALL_STREAM])(
  'a group on %s whose reader reaches a damaged record',
  (stream) => {
    it('reads it once, not again on its ticker or on new events, and once more for a consumer joining again', async () => {
      const { engine, reads } = await damagedEngine()
      const runtime = await GroupRuntime.start(engine, definitionOf(stream))
      const first = consumer('first')
      expect(runtime.connect(first.connection, 10)).toBe('joined')
      await vi.waitFor(() => expect(first.sent).toHaveLength(1))
      runtime.ack(first.sent)
      await first.whenEnded
      expect(first.ended()?.error).toMatchObject({ code: 13 })
      expect(first.ended()?.error?.details).toMatch(/^DATA_CORRUPT: /)
      const readsAtFailure = reads()

      await engine.append(DAMAGED.stream, 'any', many(2))
      runtime.wake()
      await vi.advanceTimersByTimeAsync(60_000)
      expect(reads()).toBe(readsAtFailure)

      const again = consumer('again')
      expect(runtime.connect(again.connection, 10)).toBe('joined')
      await again.whenEnded
      expect(again.ended()?.error?.details).toBe(first.ended()?.error?.details)
      expect(again.sent).toEqual([])
      expect(reads()).toBe(readsAtFailure + 1)
      await runtime.stop(undefined)
    })
  },
)
