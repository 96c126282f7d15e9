import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createEventStoreDbStore, type EventStore, type RecordedEvent } from 'annals'
import { createDevStore, type DevStore } from 'annals/devstore'
import { workflowStream, type WorkflowRecord } from 'annals/projections'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { rendezvousOwner } from '../../framework/sharding/routing/rendezvous-hash.ts'
import {
  killHard,
  postJson,
  reservePorts,
  ringConverged,
  spawnReplica,
  type ReplicaProcess,
} from './cluster-harness.ts'
import { alarm } from './fixtures/alarm-workflow.ts'

const entry = fileURLToPath(new URL('./fixtures/workflow-replica.ts', import.meta.url))
const clusterEnv = {
  ANNALS_PROBE_INTERVAL_MS: '100',
  ANNALS_PROBE_TIMEOUT_MS: '300',
  ANNALS_PROBE_MISSES: '2',
  ANNALS_CLUSTER_SECRET: 'workflow-cluster-secret-0123456789',
}

let devstore: DevStore
let store: EventStore
let ports: number[] = []
let replicas: ReplicaProcess[] = []
let env: Record<string, string>

beforeAll(async () => {
  devstore = await createDevStore()
  store = createEventStoreDbStore(devstore.connectionString)
  ports = await reservePorts(3)
  env = {
    ...clusterEnv,
    ANNALS_PEERS: ports.map((port) => `http://127.0.0.1:${port}`).join(','),
    EVENTSTORE_URL: devstore.connectionString,
  }
  replicas = await Promise.all(ports.map((port) => spawnReplica({ port, env, entry })))
  await ringConverged(replicas)
}, 90_000)

afterAll(async () => {
  for (const replica of replicas) await killHard(replica)
  await store?.close()
  await devstore?.close()
})

/** The replica that runs an alarm's partition, by the ring every replica computes. */
const ownerOf = (alarmId: string, urls: readonly string[]) =>
  rendezvousOwner(`reactor\u0000workflow:alarm\u0000${alarm.partitionOf(alarmId)}`, urls)

async function streamOf(name: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = []
  for await (const event of store.readStream(name)) events.push(event)
  return events
}

/** Sets alarms through any replica: the first increment of each names when it rings. */
async function setAlarms(ids: readonly string[], due: number, through: ReplicaProcess) {
  for (const id of ids) {
    // One command id per alarm: a request that timed out on a loaded machine is sent again, and runs once.
    const command = {
      aggregate: 'Counter',
      command: 'increment',
      aggregateId: id,
      commandId: randomUUID(),
      input: { by: 1, sequence: due },
    }
    await vi.waitFor(
      async () => expect((await postJson(through.url, '/commands', command, 5_000)).status).toBe(200),
      { timeout: 20_000, interval: 100 },
    )
  }
  // Each alarm's owner has recorded its timer.
  await vi.waitFor(
    async () => {
      for (const id of ids) expect((await streamOf(workflowStream('alarm', id))).length).toBeGreaterThan(0)
    },
    { timeout: 20_000, interval: 50 },
  )
}

const firingsOf = async (id: string) =>
  (await streamOf(workflowStream('alarm', id))).filter((e) => e.type === 'WorkflowTimerFired')

/**
 * Resolves once every alarm has rung and its firing is recorded (the record follows the command it sent); then
 * checks each rang once, with one firing recorded.
 */
async function rangOnce(ids: readonly string[]): Promise<WorkflowRecord['trigger'][]> {
  await vi.waitFor(
    async () => {
      for (const id of ids) {
        expect((await streamOf(`Counter-rung-${id}`)).length).toBeGreaterThan(0)
        expect((await firingsOf(id)).length).toBeGreaterThan(0)
      }
    },
    { timeout: 30_000, interval: 100 },
  )
  const triggers: WorkflowRecord['trigger'][] = []
  for (const id of ids) {
    expect(await streamOf(`Counter-rung-${id}`)).toHaveLength(1)
    const fired = await firingsOf(id)
    expect(fired).toHaveLength(1)
    triggers.push((fired[0]!.data as WorkflowRecord).trigger)
  }
  return triggers
}

describe('workflow timers across replica processes', () => {
  it('fires once on another replica when the owner of a due timer is killed with SIGKILL', async () => {
    const urls = replicas.map((r) => r.url)
    const ids = Array.from({ length: 12 }, (_, i) => `alarm-k${i}`)
    const victim = replicas.find((r) => r.url === ownerOf(ids[0]!, urls))!
    const doomed = ids.filter((id) => ownerOf(id, urls) === victim.url)
    const due = Date.now() + 8_000
    await setAlarms(ids, due, replicas[0]!)
    expect(Date.now()).toBeLessThan(due) // killed before its timers are due, or the test proves nothing
    await killHard(victim)

    const triggers = await rangOnce(ids)
    const survivors = urls.filter((url) => url !== victim.url)
    for (const id of doomed) expect(survivors).toContain(ownerOf(id, survivors))
    expect(doomed.length).toBeGreaterThan(0)
    for (const trigger of triggers) expect(trigger).toMatchObject({ kind: 'timer', name: 'ring' })
  }, 90_000)

  it('fires once after recovery a timer that fell due while every replica was down, late by the outage', async () => {
    const ids = Array.from({ length: 4 }, (_, i) => `alarm-o${i}`)
    const due = Date.now() + 6_000
    const live = replicas.filter(
      (replica) => replica.child.exitCode === null && replica.child.signalCode === null,
    )
    await setAlarms(ids, due, live[0]!)
    await Promise.all(replicas.map((replica) => killHard(replica)))
    expect(Date.now()).toBeLessThan(due) // all down before the timers are due, or the test proves nothing
    const outageEnds = due + 1_500
    // The scenario is an outage of a given length that outlasts the timers, not a wait for a condition.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, outageEnds - Date.now())))

    // One replica comes back (its peers stay down): it runs every partition and fires what fell due.
    replicas = [await spawnReplica({ port: ports[0]!, env, entry })]
    const triggers = await rangOnce(ids)
    for (const trigger of triggers) {
      expect(trigger.kind === 'timer' && trigger.latenessMs).toBeGreaterThanOrEqual(1_500)
    }
  }, 90_000)
})
