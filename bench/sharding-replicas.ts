import type { AnyAggregate } from '../framework/aggregate/define-aggregate.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import type { CreateClusterOptions } from '../framework/sharding/create-cluster.ts'
import { startInProcessReplicas, type InProcessReplica } from '../test/support/in-process-replicas.fixture.ts'

/** In-process replicas for the sharding benchmarks: real HTTP on loopback between them, one shared store. */
export type BenchReplica = InProcessReplica

export async function startBenchReplicas(
  count: number,
  store: EventStore,
  aggregates: readonly AnyAggregate[],
  options: Partial<CreateClusterOptions> = {},
): Promise<{ replicas: BenchReplica[]; close(): Promise<void> }> {
  const replicas = await startInProcessReplicas({
    count,
    store,
    aggregates,
    cluster: {
      secret: 'bench-cluster-secret-0123456789',
      probeIntervalMs: 200,
      probeTimeoutMs: 2000,
      ...options,
    },
  })
  return {
    replicas,
    async close() {
      for (const replica of replicas) await replica.close()
    },
  }
}
