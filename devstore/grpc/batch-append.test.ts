import { randomUUID } from 'node:crypto'
import { DeadlineExceededError, EventStoreDBClient, jsonEvent } from '@eventstore/db-client'
import { afterEach, describe, expect, it } from 'vitest'
import { openEngine, type Engine } from '../engine/engine.ts'
import { FaultState } from '../faults.ts'
import { startDevStoreServer, type DevStoreServer } from './server.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** A devstore whose engine holds appends to `held-` streams until released: a slow disk, for certain. */
async function storeWithHeldAppends() {
  const engine = await openEngine()
  const gates: (() => void)[] = []
  const holding: Engine = Object.create(engine, {
    append: {
      value: async (...args: Parameters<Engine['append']>) => {
        if (args[0].startsWith('held-')) await new Promise<void>((resolve) => gates.push(resolve))
        return engine.append(...args)
      },
    },
  }) as Engine
  const server: DevStoreServer = await startDevStoreServer({
    engine: holding,
    host: '127.0.0.1',
    port: 0,
    faults: new FaultState(),
  })
  const client = EventStoreDBClient.connectionString(`esdb://127.0.0.1:${server.port}?tls=false`)
  cleanups.push(async () => {
    for (const release of gates) release()
    await client.dispose()
    await server.close()
    await engine.close()
  })
  return { client, engine, release: () => gates.splice(0).forEach((release) => release()) }
}

const event = () => jsonEvent({ type: 'Charged', data: { kw: 5 } })

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('BatchAppend deadlines', () => {
  it('answers Timeout when the engine answers after the deadline, and only that request', async () => {
    const { client, engine, release } = await storeWithHeldAppends()
    const held = `held-${randomUUID()}`
    const timedOut = failure(client.appendToStream(held, event(), { deadline: 150 }))
    const other = await client.appendToStream(`free-${randomUUID()}`, event(), { deadline: 5_000 })
    expect(other.success).toBe(true)
    expect(await timedOut).toBeInstanceOf(DeadlineExceededError)
    // The engine still finishes what it was given, as EventStoreDB's write goes on past a client's timeout.
    release()
    await expect
      .poll(
        async () =>
          (await engine.readStream(held, { direction: 'forwards', fromRevision: 'start', maxCount: 10n }))
            .kind,
      )
      .toBe('ok')
  })

  it('times out a later request with an earlier deadline first, and answers the earlier one when the engine does', async () => {
    const { client, release } = await storeWithHeldAppends()
    const patient = client.appendToStream(`held-${randomUUID()}`, event(), { deadline: 10_000 })
    const hasty = await failure(client.appendToStream(`held-${randomUUID()}`, event(), { deadline: 100 }))
    expect(hasty).toBeInstanceOf(DeadlineExceededError)
    release()
    expect((await patient).success).toBe(true)
  })
})
