import {
  AnnalsError,
  type CommandBus,
  type EventStore,
  type PartitionStatus,
  type ReadModelSource,
  type ReadSideContext,
  type ReadSideLogger,
  type RecordedEvent,
} from '../framework/index.ts'
import type { RetryPolicy } from '../framework/internal.ts'
import { lagKey, type Lag, type LagSubject } from './lag.ts'
import { shareSubscriptions } from './shared-subscriptions.ts'

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

export function partitionRunnerContext(options: PartitionHostOptions): PartitionRunnerContext {
  return {
    // A host's partitions of one reactor or workflow follow the same event types: one subscription serves them.
    store: shareSubscriptions(options.store),
    commands: options.commands,
    readModel: options.readModel,
    ...(options.handlerRetry ? { retry: options.handlerRetry } : {}),
    ...(options.resubscribeRetry ? { resubscribeRetry: options.resubscribeRetry } : {}),
    ...(options.log ? { log: options.log } : {}),
  }
}

/** A partition as its host reports it: where it stands, and which events are its own. */
export interface HostedPartition extends RunningPartition {
  readonly position: bigint
  /** What its durable checkpoint holds; undefined before the first. */
  readonly checkpoint: bigint | undefined
  ownsEvent(event: RecordedEvent): boolean
}

/** One reactor's or workflow's partitions on this replica. */
export interface PartitionRuntime<P extends HostedPartition = HostedPartition> {
  readonly definition: { readonly name: string; readonly eventTypes: readonly string[] }
  readonly partitions: PartitionSet<P>
}

/** What a reactor's or a workflow's host takes from the read side beside its definitions. */
export interface PartitionHostOptions extends ReadSideContext {
  /** The projection a handler reads by name; throws NOT_FOUND for an unknown one. */
  readonly readModel: (name: string) => ReadModelSource
  readonly handlerRetry?: Partial<RetryPolicy>
  readonly resubscribeRetry?: Partial<RetryPolicy>
  /** The lag of a partition (by its lag key) that has handled the log through a position. */
  readonly lagAt: (key: string, position: bigint) => Lag
}

/** The partitions of a read side's reactors, or of its workflows, that run on this replica. */
export interface PartitionHost<TControl> {
  /** Starts the partitions this replica owns now and stops those it no longer owns. */
  rebalance(): void
  /** Operations on one reactor or workflow; throws NOT_FOUND for an unknown name. */
  control(name: string): TControl
  /** The partitions running here, as the read side measures their lag. */
  lagSubjects(): LagSubject[]
  stop(): Promise<void>
}

/**
 * Hosts the partitions of each runtime (one reactor or workflow each): rebalances and stops them together,
 * finds one by name, and lists them for the lag.
 */
export function createPartitionHost<R extends PartitionRuntime, TControl>(options: {
  readonly kind: 'reactor' | 'workflow'
  readonly runtimes: readonly R[]
  readonly control: (runtime: R) => TControl
}): PartitionHost<TControl> {
  const { kind, runtimes } = options
  return {
    rebalance() {
      for (const runtime of runtimes) runtime.partitions.rebalance()
    },
    control(name) {
      const runtime = runtimes.find((candidate) => candidate.definition.name === name)
      if (!runtime) throw new AnnalsError('NOT_FOUND', `No ${kind} is named ${name}`)
      return options.control(runtime)
    },
    lagSubjects: () =>
      runtimes.flatMap(({ definition, partitions }) =>
        [...partitions.running].map(([partition, running]) => ({
          key: lagKey(kind, definition.name, partition),
          position: () => running.position,
          eventTypes: definition.eventTypes,
          handles: (event: RecordedEvent) => running.ownsEvent(event),
        })),
      ),
    async stop() {
      await Promise.all(runtimes.map((runtime) => runtime.partitions.stop()))
    },
  }
}

/** Where each partition of one runtime running here stands: its checkpoint and its lag. */
export function partitionStatuses(
  kind: 'reactor' | 'workflow',
  { definition, partitions }: PartitionRuntime,
  lagAt: PartitionHostOptions['lagAt'],
): PartitionStatus[] {
  return [...partitions.running].map(([partition, running]) => ({
    partition,
    position: running.position,
    checkpoint: running.checkpoint,
    ...lagAt(lagKey(kind, definition.name, partition), running.position),
  }))
}
