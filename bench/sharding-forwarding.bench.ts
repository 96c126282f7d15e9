import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { counterAggregate } from '../test/support/counter.fixture.ts'
import { createDevStore } from '../devstore/index.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { aggregateKey, rendezvousOwner } from '../framework/sharding/routing/rendezvous-hash.ts'
import type { Bench, BenchResult } from './run.ts'
import { startBenchReplicas, type BenchReplica } from './sharding-replicas.ts'

const Counter = counterAggregate()
const AGGREGATES = 64
const CONCURRENCY = 16
const CHUNKS = 6
const COMMANDS_PER_CHUNK = 300

/** Sends `count` increments through `via`, `CONCURRENCY` at a time, round-robin over `ids`; returns ms. */
async function drive(via: BenchReplica, ids: readonly string[], count: number): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const n = next++
        await via.cluster.commands.execute({
          aggregate: 'Counter',
          command: 'increment',
          aggregateId: ids[n % ids.length]!,
          input: { by: 1 },
          commandId: randomUUID(),
        })
      }
    }),
  )
  return performance.now() - started
}

function idsOwnedBy(owner: string, members: readonly string[], count: number): string[] {
  const ids: string[] = []
  for (let i = 0; ids.length < count; i++) {
    if (rendezvousOwner(aggregateKey('Counter', `c-${i}`), members) === owner) ids.push(`c-${i}`)
  }
  return ids
}

const bench: Bench = {
  name: 'sharding-forwarding',
  description:
    'commands a replica forwards to their owner over loopback HTTP vs commands it owns (two in-process replicas, devstore over gRPC)',
  async run(): Promise<BenchResult> {
    // The production path: appends go over gRPC to the devstore, as they would to EventStoreDB.
    const devstore = await createDevStore()
    const store = createEventStoreDbStore(devstore.connectionString)
    const started = await startBenchReplicas(2, store, [Counter])
    const replicas = started.replicas
    try {
      const [a, b] = replicas as [BenchReplica, BenchReplica]
      const members = [a.url, b.url]
      const local = idsOwnedBy(a.url, members, AGGREGATES)
      const remote = idsOwnedBy(b.url, members, AGGREGATES)
      // Warm up both paths: aggregates hot on their owners, sockets open, code optimised.
      await drive(a, local, COMMANDS_PER_CHUNK)
      await drive(a, remote, COMMANDS_PER_CHUNK)
      let localMs = 0
      let forwardedMs = 0
      for (let chunk = 0; chunk < CHUNKS; chunk++) {
        // Alternate which side goes first, so a neighbour's load falls on both.
        if (chunk % 2 === 0) {
          localMs += await drive(a, local, COMMANDS_PER_CHUNK)
          forwardedMs += await drive(a, remote, COMMANDS_PER_CHUNK)
        } else {
          forwardedMs += await drive(a, remote, COMMANDS_PER_CHUNK)
          localMs += await drive(a, local, COMMANDS_PER_CHUNK)
        }
      }
      const commands = CHUNKS * COMMANDS_PER_CHUNK
      const forwarded = commands / (forwardedMs / 1000)
      const localRate = commands / (localMs / 1000)
      return {
        figure: { label: 'forwarded', value: Math.round(forwarded), unit: 'commands/s' },
        baseline: { label: 'local', value: Math.round(localRate), unit: 'commands/s' },
        ratio: forwarded / localRate,
        target: 0.5,
        notes:
          `${commands} commands each way, ${CONCURRENCY} in flight over ${AGGREGATES} hot aggregates, in chunks of ` +
          `${COMMANDS_PER_CHUNK} alternating; both replicas and the devstore share this process's CPU, so the hop's cost on both ends is counted; ` +
          `forwarded commands go to their owner in batches (those issued in one turn or while 2 requests are in flight, at most 64 a request)`,
      }
    } finally {
      await started.close()
      await store.close()
      await devstore.close()
    }
  },
}

export default bench
