import { fileURLToPath } from 'node:url'
import { createDevStore, type DevStore } from 'annals/devstore'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { aggregateKey, rendezvousOwner } from '../../framework/sharding/routing/rendezvous-hash.ts'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'
import {
  killHard,
  reservePorts,
  ringConverged,
  spawnReplica,
  type ReplicaProcess,
} from './cluster-harness.ts'

interface FinishedSpan {
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly attributes: Record<string, unknown>
  readonly replica: string
}

const entry = fileURLToPath(new URL('./fixtures/traced-replica.ts', import.meta.url))
const clusterEnv = {
  ANNALS_PROBE_INTERVAL_MS: '100',
  ANNALS_PROBE_TIMEOUT_MS: '300',
  ANNALS_PROBE_MISSES: '3',
  ANNALS_CLUSTER_SECRET: 'cluster-test-secret-0123456789',
  NODE_ENV: 'test',
}

let devstore: DevStore
let replicas: ReplicaProcess[] = []

beforeAll(async () => {
  devstore = await createDevStore()
  const ports = await reservePorts(2)
  const peers = ports.map((port) => `http://127.0.0.1:${port}`).join(',')
  replicas = await Promise.all(
    ports.map((port) => {
      const env = { ...clusterEnv, ANNALS_PEERS: peers, EVENTSTORE_URL: devstore.connectionString }
      return spawnReplica({ port, env, entry })
    }),
  )
  await ringConverged(replicas)
}, 90_000)

afterAll(async () => {
  for (const replica of replicas) await killHard(replica)
  await devstore?.close()
})

/** Every span each replica has finished so far, read from its in-memory exporter. */
async function finishedSpans(): Promise<FinishedSpan[]> {
  const answers = await Promise.all(
    replicas.map(async (replica) => (await (await fetch(`${replica.url}/spans`)).json()) as FinishedSpan[]),
  )
  return answers.flat()
}

interface CounterFrame {
  readonly countersChanged: { readonly kind: string; readonly position: string }
}

describe('tracing across replicas (real child processes, each with an in-memory span exporter)', () => {
  it('follows a mutation through the forward, the append on the owner, and the projection and the subscription frame on the other replica as one trace', async () => {
    const [entryReplica, owner] = replicas as [ReplicaProcess, ReplicaProcess]
    const urls = replicas.map((replica) => replica.url)
    // A counter the second replica owns, so the mutation sent to the first is forwarded.
    const id = Array.from({ length: 100 }, (_, i) => `traced-${i}`).find(
      (candidate) => rendezvousOwner(aggregateKey('Counter', candidate), urls) === owner.url,
    )!
    // A subscriber on each replica, live (its CURRENT frame taken) before the mutation.
    const clients = replicas.map((replica) => connectClient(`${replica.url.replace('http', 'ws')}/graphql`))
    const feeds = clients.map((client) =>
      subscribe<CounterFrame>(
        client,
        'subscription Watch($id: ID!) { countersChanged(id: $id) { kind position } }',
        { id },
      ),
    )
    for (const feed of feeds) expect((await feed.take(1))[0]!.countersChanged.kind).toBe('CURRENT')

    const response = await fetch(`${entryReplica.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation Bump($id: ID!) { increment(id: $id, input: { by: 7 }) { revision token } }',
        variables: { id },
      }),
    })
    const body = (await response.json()) as { data?: { increment: { token: string } }; errors?: unknown }
    expect(body.errors).toBeUndefined()
    const position = body.data!.increment.token
    for (const feed of feeds) {
      expect((await feed.take(1))[0]!.countersChanged).toEqual({ kind: 'CREATED', position })
      feed.close()
    }
    for (const client of clients) await client.dispose()

    const isApplyOnEntry = (span: FinishedSpan) =>
      span.name === 'projection counters' &&
      span.replica === entryReplica.url &&
      span.attributes['annals.position'] === position
    // The echo reactor answers an increment of 7 with a command to echo-<id>, from the reaction's span. Where
    // the reactor's replica does not own echo-<id>, the command is forwarded: the owner's span of it is a child
    // of the forward (marked forwarded_from), and only the sender's is the reaction's child.
    const isEchoCommand = (span: FinishedSpan) =>
      span.name === 'command Counter.increment' &&
      span.attributes['annals.aggregate_id'] === `echo-${id}` &&
      span.attributes['annals.forwarded_from'] === undefined
    const isFrame = (span: FinishedSpan) =>
      span.name === 'subscription countersChanged' && span.attributes['annals.position'] === position
    await vi.waitFor(
      async () => {
        const spans = await finishedSpans()
        expect(spans.some(isApplyOnEntry)).toBe(true)
        expect(new Set(spans.filter(isFrame).map((span) => span.replica)).size).toBe(replicas.length)
        const echoes = spans.filter(isEchoCommand)
        expect(echoes.length).toBeGreaterThan(0)
        // A reaction's span ends after the command it sent: wait until each echo's parent is exported too.
        for (const echo of echoes) expect(spans.some((span) => span.spanId === echo.parentSpanId)).toBe(true)
      },
      { timeout: 20_000 },
    )

    const spans = await finishedSpans()
    const operation = spans.find(
      (span) => span.name === 'graphql mutation' && span.replica === entryReplica.url,
    )!
    const traceSpans = spans.filter((span) => span.traceId === operation.traceId)
    const one = (predicate: (span: FinishedSpan) => boolean) => {
      const found = traceSpans.filter(predicate)
      expect(found).toHaveLength(1)
      return found[0]!
    }
    const ofCounter = (span: FinishedSpan) => span.attributes['annals.aggregate_id'] === id
    const command = one(
      (span) =>
        span.name === 'command Counter.increment' && span.replica === entryReplica.url && ofCounter(span),
    )
    const forward = one(
      (span) => span.name === 'forward Counter.increment' && span.parentSpanId === command.spanId,
    )
    const ownerCommand = one(
      (span) => span.name === 'command Counter.increment' && span.replica === owner.url && ofCounter(span),
    )
    const append = one(
      (span) => span.name === 'append' && span.attributes['annals.stream'] === `Counter-${id}`,
    )
    const apply = one(isApplyOnEntry)

    expect(command.parentSpanId).toBe(operation.spanId)
    expect(command.attributes).toMatchObject({ 'annals.aggregate': 'Counter', 'annals.aggregate_id': id })
    expect(forward.parentSpanId).toBe(command.spanId)
    expect(forward.attributes['annals.owner']).toBe(owner.url)
    expect(ownerCommand.parentSpanId).toBe(forward.spanId)
    expect(ownerCommand.attributes['annals.forwarded_from']).toBe(entryReplica.url)
    expect(append.replica).toBe(owner.url)
    expect(append.parentSpanId).toBe(ownerCommand.spanId)
    expect(append.attributes).toMatchObject({ 'annals.stream': `Counter-${id}`, 'annals.revision': '0' })
    expect(apply.parentSpanId).toBe(ownerCommand.spanId)
    expect(apply.attributes['annals.projection']).toBe('counters')
    // The frame each replica sent its subscriber continues the trace from the event's stored traceparent.
    for (const replica of replicas) {
      const frame = one((span) => isFrame(span) && span.replica === replica.url)
      expect(frame.parentSpanId).toBe(ownerCommand.spanId)
      expect(frame.attributes['annals.feed']).toBe('countersChanged')
    }
    // A reaction runs at least once: a handler is retried after a failed try (a forward that timed out on a
    // loaded machine), a partition that moves before its checkpoint handles the event again; each run keeps
    // its command's derived id and is a child of the command.
    const reactions = traceSpans.filter(
      (span) => span.name === 'reactor echo' && span.attributes['annals.position'] === position,
    )
    expect(reactions.length).toBeGreaterThanOrEqual(1)
    for (const reaction of reactions) expect(reaction.parentSpanId).toBe(ownerCommand.spanId)
    const echoes = traceSpans.filter(isEchoCommand)
    expect(echoes.length).toBeGreaterThanOrEqual(1)
    for (const echo of echoes)
      expect(reactions.map((reaction) => reaction.spanId)).toContain(echo.parentSpanId)
  }, 60_000)
})
