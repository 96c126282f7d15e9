import type {
  CommandBus,
  EventStore,
  ReadModelSource,
  ReadSideContext,
  ReadSideLogger,
} from '../framework/index.ts'
import type { RetryPolicy } from '../framework/internal.ts'

/** What a partition runner (a reactor's or a workflow's) gives its host. */
export interface RunningPartition {
  stop(): Promise<void>
}

/**
 * The partitions of one runner on this replica: `rebalance` starts those the replica owns now and stops those it
 * no longer owns; ownership comes from the cluster's ring, or every partition on a replica of its own.
 */
export interface PartitionSet<P extends RunningPartition> {
  readonly running: ReadonlyMap<string, P>
  rebalance(): void
  stop(): Promise<void>
}

export function createPartitionSet<P extends RunningPartition>(options: {
  readonly partitions: number
  readonly owns: (partition: string) => boolean
  readonly start: (partition: string) => P
}): PartitionSet<P> {
  const running = new Map<string, P>()
  return {
    running,
    rebalance() {
      for (let n = 0; n < options.partitions; n++) {
        const partition = String(n)
        const owned = options.owns(partition)
        const current = running.get(partition)
        if (owned && !current) {
          running.set(partition, options.start(partition))
        } else if (!owned && current) {
          running.delete(partition)
          void current.stop()
        }
      }
    },
    async stop() {
      const stopping = [...running.values()].map((partition) => partition.stop())
      running.clear()
      await Promise.all(stopping)
    },
  }
}

/** What every partition runner, a reactor's or a workflow's, takes from the read side that hosts it. */
export interface PartitionRunnerContext {
  readonly store: EventStore
  readonly commands: CommandBus
  readonly readModel: (name: string) => ReadModelSource
  readonly retry?: Partial<RetryPolicy>
  readonly resubscribeRetry?: Partial<RetryPolicy>
  readonly log?: ReadSideLogger
}

export function partitionRunnerContext(
  options: ReadSideContext & {
    readonly readModel: (name: string) => ReadModelSource
    readonly handlerRetry?: Partial<RetryPolicy>
    readonly resubscribeRetry?: Partial<RetryPolicy>
  },
): PartitionRunnerContext {
  return {
    store: options.store,
    commands: options.commands,
    readModel: options.readModel,
    ...(options.handlerRetry ? { retry: options.handlerRetry } : {}),
    ...(options.resubscribeRetry ? { resubscribeRetry: options.resubscribeRetry } : {}),
    ...(options.log ? { log: options.log } : {}),
  }
}
