import { createEventStoreDbStore, type EventStore } from 'annals'
import { createDevStore, type DevStore } from 'annals/devstore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aggregateKey, rendezvousOwner } from '../../framework/sharding/routing/rendezvous-hash.ts'
import {
  killHard,
  postJson,
  reservePorts,
  ringConverged,
  spawnReplica,
  startLoad,
  type ReplicaProcess,
} from './cluster-harness.ts'
import { Counter } from './fixtures/counter.ts'

// Short probes so a fault is noticed in well under a second: 100 ms apart, 300 ms to answer, 2 misses.
const clusterEnv = {
  ANNALS_PROBE_INTERVAL_MS: '100',
  ANNALS_PROBE_TIMEOUT_MS: '300',
  ANNALS_PROBE_MISSES: '2',
  ANNALS_FORWARD_TIMEOUT_MS: '3000',
  ANNALS_CLUSTER_SECRET: 'cluster-test-secret-0123456789',
}
const recoveryBoundMs = 10_000
const ids = Array.from({ length: 24 }, (_, i) => `counter-${i}`)

let devstore: DevStore
let store: EventStore
let replicas: ReplicaProcess[] = []
let env: Record<string, string>

beforeAll(async () => {
  devstore = await createDevStore()
  store = createEventStoreDbStore(devstore.connectionString)
  const ports = await reservePorts(3)
  const peers = ports.map((p) => `http://127.0.0.1:${p}`).join(',')
  env = { ...clusterEnv, ANNALS_PEERS: peers, EVENTSTORE_URL: devstore.connectionString }
  replicas = await Promise.all(ports.map((port) => spawnReplica({ port, env })))
  await ringConverged(replicas)
}, 90_000)

afterAll(async () => {
  for (const replica of replicas) {
    if (replica.child.signalCode === null) replica.child.kill('SIGCONT')
    await killHard(replica)
  }
  await store?.close()
  await devstore?.close()
})

const affectedBy = (victim: ReplicaProcess) =>
  ids.filter(
    (id) =>
      rendezvousOwner(
        aggregateKey('Counter', id),
        replicas.map((r) => r.url),
      ) === victim.url,
  )

describe('a cluster of three replica processes under load', () => {
  it('loses and repeats no acknowledged command through a kill -9, a restart and a SIGSTOP', async () => {
    const load = startLoad({ urls: replicas.map((r) => r.url), ids, concurrency: 8, requestTimeoutMs: 1500 })
    try {
      await load.until((acks) => acks.length >= 50)
      const others = (victim: ReplicaProcess) => replicas.filter((r) => r !== victim).map((r) => r.url)

      // kill -9 one replica: its aggregates move to the other two.
      const killed = replicas[2]!
      const killedAffected = affectedBy(killed)
      const killedAt = Date.now()
      await killHard(killed)
      const afterKill = await load.recovery(killedAffected, others(killed), killedAt)

      // Restart it on the same address: it rejoins and takes its aggregates back.
      replicas[2] = await spawnReplica({ port: killed.port, env })
      await ringConverged(replicas)
      const rejoinedAt = Date.now()
      const afterRestart = await load.recovery(killedAffected, [replicas[2].url], rejoinedAt)
      await load.until((acks) => acks.filter((a) => a.sentAt >= rejoinedAt).length >= 50)

      // SIGSTOP one for longer than the probe timeout: the others route around it, then it comes back.
      const paused = replicas[1]!
      const pausedAffected = affectedBy(paused)
      const pausedAt = Date.now()
      paused.child.kill('SIGSTOP')
      const afterPause = await load.recovery(pausedAffected, others(paused), pausedAt)
      // The scenario is a pause of a given length, not a wait for a condition.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, pausedAt + 1500 - Date.now())))
      paused.child.kill('SIGCONT')
      await ringConverged(replicas)
      const resumedAt = Date.now()
      const afterResume = await load.recovery(pausedAffected, [paused.url], resumedAt)
      await load.until((acks) => acks.filter((a) => a.sentAt >= resumedAt).length >= 50)

      console.info(
        `cluster recovery (ms): kill -9 ${afterKill}, restart ${afterRestart}, SIGSTOP ${afterPause}, SIGCONT ${afterResume}; ` +
          `${load.acks.length} commands acknowledged`,
      )
      for (const ms of [afterKill, afterRestart, afterPause, afterResume])
        expect(ms).toBeLessThan(recoveryBoundMs)
    } finally {
      await load.stop()
    }
    expect(load.failures).toEqual([])

    const acked = new Map(load.acks.map((a) => [a.commandId, a.aggregateId]))
    const seen = new Map<string, number>()
    for (const id of ids) {
      const events = []
      for await (const event of store.readStream(Counter.streamName(id))) events.push(event)
      // Revisions have no gaps.
      expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => BigInt(i)))
      for (const event of events) {
        const commandId = event.metadata['commandId'] as string
        seen.set(commandId, (seen.get(commandId) ?? 0) + 1)
      }
      // The state the owner holds equals the fold of the events.
      const reply = await postJson(replicas[0]!.url, '/commands', {
        aggregate: 'Counter',
        command: 'check',
        aggregateId: id,
        input: { value: events.length, increments: events.length },
      })
      expect(reply.body).toMatchObject({ aggregateId: id })
    }
    // Every acknowledged command is in the store exactly once; no command is in it twice.
    for (const [commandId] of acked) expect(seen.get(commandId)).toBe(1)
    expect([...seen.values()].every((count) => count === 1)).toBe(true)
  }, 120_000)
})
