import { createCommandBus } from '../command/create-command-bus.ts'
import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { Counter } from '../../test/cluster/fixtures/counter.ts'
import type { EventStore } from '../event-store/event-store.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { createCluster, type CreateClusterOptions } from './create-cluster.ts'
import {
  startInProcessReplicas,
  type InProcessReplica,
} from '../../test/support/in-process-replicas.fixture.ts'
import { aggregateKey, rendezvousOwner } from './routing/rendezvous-hash.ts'

const secret = 'a-cluster-secret-for-tests'

type Replica = InProcessReplica

const running: Replica[] = []
afterEach(async () => {
  for (const replica of running.splice(0)) await replica.close()
})

async function startReplicas(
  count: number,
  store: EventStore,
  overrides: Partial<CreateClusterOptions> = {},
): Promise<Replica[]> {
  const replicas = await startInProcessReplicas({
    count,
    store,
    aggregates: [Counter],
    cluster: {
      secret,
      probeIntervalMs: 30,
      probeTimeoutMs: 500,
      probeMisses: 2,
      forwardTimeoutMs: 2000,
      ...overrides,
    },
  })
  running.push(...replicas)
  return replicas
}

function ownerOf(replicas: readonly Replica[], id: string) {
  const url = rendezvousOwner(
    aggregateKey('Counter', id),
    replicas.map((r) => r.url),
  )
  return replicas.find((r) => r.url === url)!
}

/** An aggregate id that the given replica owns among these replicas. */
function idOwnedBy(replicas: readonly Replica[], owner: Replica) {
  for (let i = 0; ; i++) if (ownerOf(replicas, `c-${i}`) === owner) return `c-${i}`
}

const increment = (aggregateId: string, commandId = randomUUID()) => ({
  aggregate: 'Counter',
  command: 'increment',
  aggregateId,
  input: { by: 1 },
  commandId,
})

async function eventsOf(store: EventStore, id: string) {
  const events = []
  for await (const e of store.readStream(Counter.streamName(id))) events.push(e)
  return events
}

/** The status of GET /_annals/ring, and its WWW-Authenticate challenge if any. */
function getRing(url: string, authorization?: string) {
  return new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
    const req = request(`${url}/_annals/ring`, { headers: authorization ? { authorization } : {} }, (res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('createCluster', () => {
  it('forwards a command to the replica that owns the aggregate, which runs it', async () => {
    const store = createInMemoryEventStore()
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], b!)
    const result = await a!.cluster.commands.execute(increment(id))
    expect(result.revision).toBe(0n)
    expect(typeof result.position).toBe('bigint')
    expect(a!.cluster.status().forwardedCommands).toBe(1)
    expect(b!.cluster.status().hostedAggregates).toBe(1)
    expect(a!.cluster.status().hostedAggregates).toBe(0)
  })

  it('runs a command locally when this replica owns the aggregate', async () => {
    const store = createInMemoryEventStore()
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], a!)
    await a!.cluster.commands.execute(increment(id))
    expect(a!.cluster.status()).toMatchObject({
      localCommands: 1,
      forwardedCommands: 0,
      hostedAggregates: 1,
      appends: 1,
      appendedCommands: 1,
    })
  })

  it('keeps the code and details of a domain error across the hop', async () => {
    const store = createInMemoryEventStore()
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], b!)
    const refuse = { aggregate: 'Counter', command: 'refuse', aggregateId: id, input: {} }
    await expect(a!.cluster.commands.execute(refuse)).rejects.toMatchObject({
      code: 'REFUSED',
      details: { reason: 'test' },
    })
  })

  it('refuses bad input with BAD_INPUT and its issues before any hop', async () => {
    const store = createInMemoryEventStore()
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], b!)
    const bad = { aggregate: 'Counter', command: 'increment', aggregateId: id, input: { by: -1 } }
    await expect(a!.cluster.commands.execute(bad)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      details: { issues: [expect.objectContaining({ path: ['by'] })] },
    })
    expect(a!.cluster.status().forwardedCommands).toBe(0)
  })

  it('refuses internal requests without the cluster secret, with a Bearer challenge', async () => {
    const store = createInMemoryEventStore()
    const [a] = await startReplicas(1, store)
    const refused = { status: 401, challenge: 'Bearer realm="annals-cluster"' }
    expect(await getRing(a!.url)).toEqual(refused)
    expect(await getRing(a!.url, 'Bearer not-the-secret')).toEqual(refused)
    expect(await getRing(a!.url, `Bearer ${secret}`)).toEqual({ status: 200, challenge: undefined })
  })

  it('refuses to start in production without a cluster secret', async () => {
    const option = createCluster({ env: { NODE_ENV: 'production' } })
    const http = Fastify()
    await expect(
      option.create({
        local: createCommandBus({ store: createInMemoryEventStore(), aggregates: [Counter] }),
        http,
        selfUrl: 'http://127.0.0.1:1',
      }),
    ).rejects.toMatchObject({ code: 'BAD_CONFIG' })
    await http.close()
  })

  it('runs the command on the new owner when the owner is gone', async () => {
    const store = createInMemoryEventStore()
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], b!)
    await a!.cluster.commands.execute(increment(id))
    b!.server.closeAllConnections()
    await new Promise<void>((resolve) => b!.server.close(() => resolve()))
    const result = await a!.cluster.commands.execute(increment(id))
    expect(result.revision).toBe(1n)
    expect(a!.cluster.status().members.find((m) => m.url === b!.url)?.state).toBe('down')
  })

  it('applies a command once when the owner dies after appending but before answering', async () => {
    const inner = createInMemoryEventStore()
    let onAppended: (() => void) | undefined
    const store: EventStore = {
      ...inner,
      async appendToStream(name, events, options) {
        const result = await inner.appendToStream(name, events, options)
        onAppended?.()
        return result
      },
    }
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], b!)
    // The owner's connections drop right after its append: the sender never hears the answer.
    onAppended = () => {
      onAppended = undefined
      b!.server.close()
      b!.server.closeAllConnections()
    }
    const commandId = randomUUID()
    const result = await a!.cluster.commands.execute(increment(id, commandId))
    expect(result.commandId).toBe(commandId)
    const events = await eventsOf(store, id)
    expect(events.map((e) => e.metadata['commandId'])).toEqual([commandId])
    expect(result.revision).toBe(0n)
  })

  it('stops routing to a replica that leaves, and runs its aggregates elsewhere', async () => {
    const store = createInMemoryEventStore()
    const [a, b] = await startReplicas(2, store)
    const id = idOwnedBy([a!, b!], b!)
    await b!.cluster.leave()
    expect(a!.cluster.status().members.find((m) => m.url === b!.url)?.state).toBe('leaving')
    await a!.cluster.commands.execute(increment(id))
    expect(a!.cluster.status()).toMatchObject({ localCommands: 1, forwardedCommands: 0 })
  })

  it('places every reactor partition on exactly one replica', async () => {
    const store = createInMemoryEventStore()
    const replicas = await startReplicas(3, store)
    for (let p = 0; p < 30; p++) {
      const owners = replicas.filter((r) => r.cluster.ownsPartition('dispatch', String(p)))
      expect(owners).toHaveLength(1)
    }
  })

  it('keeps revisions gapless under concurrent commands to many aggregates from every replica', async () => {
    const store = createInMemoryEventStore()
    const replicas = await startReplicas(3, store)
    const ids = Array.from({ length: 12 }, (_, i) => `hot-${i}`)
    await Promise.all(
      Array.from({ length: 240 }, (_, i) =>
        replicas[i % 3]!.cluster.commands.execute(increment(ids[i % 12]!)),
      ),
    )
    for (const id of ids) {
      expect((await eventsOf(store, id)).map((e) => e.revision)).toEqual(
        Array.from({ length: 20 }, (_, i) => BigInt(i)),
      )
    }
    // Every attempt is counted: those that succeeded plus those re-routed after a probe missed under load.
    const attempts = replicas.reduce(
      (n, r) => n + r.cluster.status().localCommands + r.cluster.status().forwardedCommands,
      0,
    )
    const rerouted = await Promise.all(
      replicas.map((r) =>
        r.http.inject({ url: '/_annals/ring', headers: { authorization: `Bearer ${secret}` } }),
      ),
    )
    expect(attempts - rerouted.reduce((n, r) => n + r.json<{ rerouted: number }>().rerouted, 0)).toBe(240)
  })
})
