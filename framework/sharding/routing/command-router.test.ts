import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { Counter } from '../../../test/cluster/fixtures/counter.ts'
import type { EventStore } from '../../event-store/event-store.ts'
import { createInMemoryEventStore } from '../../event-store/in-memory-event-store.ts'
import {
  startInProcessReplicas,
  type InProcessReplica,
} from '../../../test/support/in-process-replicas.fixture.ts'
import { aggregateKey, rendezvousOwner } from './rendezvous-hash.ts'

const secret = 'a-cluster-secret-for-router-tests'
const running: InProcessReplica[] = []
afterEach(async () => {
  for (const replica of running.splice(0)) await replica.close()
})

async function startPair(store: EventStore) {
  const replicas = await startInProcessReplicas({
    count: 2,
    store,
    aggregates: [Counter],
    cluster: { secret, probeIntervalMs: 30, probeTimeoutMs: 500, probeMisses: 2, forwardTimeoutMs: 2000 },
  })
  running.push(...replicas)
  const [a, b] = replicas as [InProcessReplica, InProcessReplica]
  // Count the batch requests reaching the owner, beside fastify's own handler.
  const batches = { count: 0 }
  b.server.on('request', (req: { url?: string }) => {
    if (req.url === '/_annals/commands/batch') batches.count++
  })
  return { a, b, batches, ids: idsOwnedBy([a.url, b.url], b.url, 4) }
}

function idsOwnedBy(members: readonly string[], owner: string, count: number): string[] {
  const ids: string[] = []
  for (let i = 0; ids.length < count; i++) {
    if (rendezvousOwner(aggregateKey('Counter', `c-${i}`), members) === owner) ids.push(`c-${i}`)
  }
  return ids
}

const increment = (aggregateId: string) => ({
  aggregate: 'Counter',
  command: 'increment',
  aggregateId,
  input: { by: 1 },
  commandId: randomUUID(),
})
const refuse = (aggregateId: string) => ({ aggregate: 'Counter', command: 'refuse', aggregateId, input: {} })

/**
 * A store that holds the first `count` appends until released, so a test can act mid-batch: before they are
 * written, or (`after`) once written, holding only their answers.
 */
function holdingStore(count: number, when: 'before' | 'after' = 'before') {
  const inner = createInMemoryEventStore()
  let release: () => void = () => undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  let allHeld: () => void = () => undefined
  const untilHeld = new Promise<void>((resolve) => (allHeld = resolve))
  let toHold = count
  const store: EventStore = {
    ...inner,
    async appendToStream(name, events, options) {
      if (toHold === 0) return inner.appendToStream(name, events, options)
      const written = when === 'after' ? await inner.appendToStream(name, events, options) : undefined
      if (--toHold === 0) allHeld()
      await released
      return written ?? inner.appendToStream(name, events, options)
    },
  }
  return { store, untilHeld: () => untilHeld, release: () => release() }
}

async function commandIdsOf(store: EventStore, id: string) {
  const commandIds: unknown[] = []
  for await (const e of store.readStream(Counter.streamName(id))) commandIds.push(e.metadata['commandId'])
  return commandIds
}

describe('command router', () => {
  it('sends the commands of one turn to an owner in one request and answers each on its own, in order', async () => {
    const { a, ids, batches } = await startPair(createInMemoryEventStore())
    const [x, y, z] = ids as [string, string, string]
    const commands = [increment(x), refuse(y), increment(x), increment(z), refuse(x), increment(x)]
    const settled = await Promise.allSettled(commands.map((c) => a.cluster.commands.execute(c)))
    expect(
      settled.map((s) =>
        s.status === 'fulfilled'
          ? { aggregateId: s.value.aggregateId, revision: s.value.revision }
          : (s.reason as { code: string }).code,
      ),
    ).toEqual([
      { aggregateId: x, revision: 0n },
      'REFUSED',
      { aggregateId: x, revision: 1n },
      { aggregateId: z, revision: 0n },
      'REFUSED',
      { aggregateId: x, revision: 2n },
    ])
    expect(batches.count).toBe(1)
    expect(a.cluster.status().forwardedCommands).toBe(6)
  })

  it('runs every command of a batch exactly once when the owner dies mid-batch', async () => {
    // The owner holds its first appends (one per aggregate: later commands to x wait in x's mailbox).
    const { store, untilHeld, release } = holdingStore(3)
    const { a, b, ids } = await startPair(store)
    const [x, y, z] = ids as [string, string, string]
    const commands = [increment(x), increment(y), increment(x), increment(z), increment(x)]
    const results = Promise.all(commands.map((c) => a.cluster.commands.execute(c)))
    await untilHeld()
    b.server.closeAllConnections()
    b.server.close()
    expect((await results).map((r) => r.commandId)).toEqual(commands.map((c) => c.commandId))
    // The dead owner's held appends go through now: they must not apply any command twice.
    release()
    await b.cluster.close()
    expect(await commandIdsOf(store, x)).toEqual(
      [commands[0], commands[2], commands[4]].map((c) => c!.commandId),
    )
    expect(await commandIdsOf(store, y)).toEqual([commands[1]!.commandId])
    expect(await commandIdsOf(store, z)).toEqual([commands[3]!.commandId])
  })

  it.each(['before', 'after'] as const)(
    'runs a command sent without an id once when it comes back here after its owner died %s its append',
    async (when) => {
      const { store, untilHeld, release } = holdingStore(2, when)
      const { a, b, ids } = await startPair(store)
      const [x, y] = ids as [string, string]
      const noId = ({ commandId: _, ...command }: ReturnType<typeof increment>) => command
      const results = Promise.all(
        [increment(x), increment(y)].map((c) => a.cluster.commands.execute(noId(c))),
      )
      await untilHeld()
      b.server.closeAllConnections()
      b.server.close()
      const answered = await results
      // The dead owner's held appends land after this replica ran the same commands: neither may apply twice.
      release()
      await b.cluster.close()
      expect(await commandIdsOf(store, x)).toEqual([answered[0]!.commandId])
      expect(await commandIdsOf(store, y)).toEqual([answered[1]!.commandId])
    },
  )

  it('re-routes every command in flight exactly once when the owner leaves the ring mid-batch', async () => {
    const { store, untilHeld, release } = holdingStore(3)
    const { a, b, ids } = await startPair(store)
    const [x, y, z] = ids as [string, string, string]
    const commands = [increment(x), increment(y), increment(z), increment(x)]
    const results = Promise.all(commands.map((c) => a.cluster.commands.execute(c)))
    await untilHeld()
    const leaving = b.cluster.leave()
    expect((await results).map((r) => r.commandId)).toEqual(commands.map((c) => c.commandId))
    const ring = await a.http.inject({ url: '/_annals/ring', headers: { authorization: `Bearer ${secret}` } })
    expect(ring.json()).toMatchObject({ forwarded: 4, rerouted: 4, local: 4 })
    release()
    await leaving
    expect(await commandIdsOf(store, x)).toEqual([commands[0]!.commandId, commands[3]!.commandId])
    expect(await commandIdsOf(store, y)).toEqual([commands[1]!.commandId])
  })

  it('sends a command run here to the new owner when its aggregate moved while it ran into a conflict', async () => {
    const held = holdingStore(1)
    const { a, b } = await startPair(held.store)
    const [id] = idsOwnedBy([a.url, b.url], a.url, 1)
    const command = increment(id!)
    const result = a.cluster.commands.execute(command)
    await held.untilHeld()
    // Someone else writes first, so the held append conflicts; meanwhile this replica leaves the ring.
    await held.store.appendToStream(Counter.streamName(id!), [
      { id: randomUUID(), type: 'Incremented', data: { by: 1, sequence: 0 } },
    ])
    const leaving = a.cluster.leave()
    held.release()
    expect(await result).toMatchObject({ commandId: command.commandId, revision: 1n })
    await leaving
    expect(await commandIdsOf(held.store, id!)).toEqual([undefined, command.commandId])
    expect(a.cluster.status()).toMatchObject({ localCommands: 1, forwardedCommands: 1 })
    expect(b.cluster.status()).toMatchObject({ localCommands: 0, appends: 1 })
  })
})

describe('the batch route', () => {
  const post = (replica: InProcessReplica, payload: unknown, authorization = `Bearer ${secret}`) =>
    replica.http.inject({
      method: 'POST',
      url: '/_annals/commands/batch',
      headers: { authorization, 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    })

  it('refuses a batch without the cluster secret before running anything', async () => {
    const { b, ids } = await startPair(createInMemoryEventStore())
    const reply = await post(b, { from: 'x', commands: [increment(ids[0]!)] }, 'Bearer wrong')
    expect(reply.statusCode).toBe(401)
    expect(b.cluster.status().hostedAggregates).toBe(0)
  })

  it('refuses a batch that is not a list of at most 64 commands', async () => {
    const { b, ids } = await startPair(createInMemoryEventStore())
    expect((await post(b, { from: 'x' })).statusCode).toBe(400)
    const tooMany = Array.from({ length: 65 }, () => increment(ids[0]!))
    expect((await post(b, { from: 'x', commands: tooMany })).json()).toMatchObject({ code: 'BAD_INPUT' })
  })

  it('answers a command without an envelope with its own BAD_INPUT line and runs the others', async () => {
    const { b, ids } = await startPair(createInMemoryEventStore())
    const reply = await post(b, { from: 'x', commands: [{ aggregate: 'Counter' }, increment(ids[0]!)] })
    const lines = reply.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { i: number; error?: { code: string }; ok?: { revision: string } })
      .sort((l, r) => l.i - r.i)
    expect(lines).toMatchObject([
      { i: 0, error: { code: 'BAD_INPUT' } },
      { i: 1, ok: { revision: '0' } },
    ])
  })

  it('tells the sender to retry elsewhere while this replica is leaving', async () => {
    const { b, ids } = await startPair(createInMemoryEventStore())
    await b.cluster.leave()
    const reply = await post(b, { from: 'x', commands: [increment(ids[0]!)] })
    expect(reply.statusCode).toBe(503)
    expect(reply.json()).toMatchObject({ code: 'OWNER_UNAVAILABLE', retry: true })
  })
})
