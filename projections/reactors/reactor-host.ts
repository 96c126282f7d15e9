import {
  AnnalsError,
  type PartitionStatus,
  type ReadModelSource,
  type ReadSideContext,
} from '../../framework/index.ts'
import { lagKey, partitionLagSubjects, type Lag, type LagSubject } from '../lag.ts'
import type { ReactorDefinition } from './define-reactor.ts'
import {
  createReactorDeadLetters,
  type ReactorDeadLetter,
  type ReactorDeadLetters,
} from './reactor-dead-letters.ts'
import { reactorContext, startReactorPartition, type ReactorPartition } from './reactor-partition.ts'
import { createPartitionSet, partitionRunnerContext, type PartitionSet } from '../partition-set.ts'
import { type RetryPolicy } from '../../framework/internal.ts'

export interface ReactorControl {
  /** The partitions running on this replica. */
  partitions(): readonly string[]
  /** Where each partition running on this replica stands: its checkpoint and its lag. */
  partitionStatuses(): readonly PartitionStatus[]
  /** The events it gave up on, kept in the event store until retried or discarded. */
  deadLetters(): Promise<readonly ReactorDeadLetter[]>
  /** Handles a dead letter's event again; true when it went through (and the dead letter is settled). */
  retryDeadLetter(id: string): Promise<boolean>
  /** Gives a dead letter's event up for good. */
  discardDeadLetter(id: string): Promise<boolean>
  eventsHandled(): number
}

export interface ReactorHostOptions extends ReadSideContext {
  readonly reactors: readonly ReactorDefinition[]
  /** The projection a reactor reads by name; throws NOT_FOUND for an unknown one. */
  readonly readModel: (name: string) => ReadModelSource
  readonly handlerRetry?: Partial<RetryPolicy>
  readonly resubscribeRetry?: Partial<RetryPolicy>
  /** The lag of a partition (by its lag key) that has handled the log through a position. */
  readonly lagAt: (key: string, position: bigint) => Lag
}

/** The reactor partitions of a read side that run on this replica. */
export interface ReactorHost {
  /** Starts the partitions this replica owns now and stops those it no longer owns. */
  rebalance(): void
  control(name: string): ReactorControl
  /** The partitions running here, as the read side measures their lag. */
  lagSubjects(): LagSubject[]
  stop(): Promise<void>
}

interface ReactorRuntime {
  readonly definition: ReactorDefinition
  readonly partitions: PartitionSet<ReactorPartition>
  readonly deadLetters: ReactorDeadLetters
}

/** Creates the host of a read side's reactors: each reactor runs the partitions `ownsPartition` gives it. */
export function createReactorHost(options: ReactorHostOptions): ReactorHost {
  const { store, log } = options
  const runnerContext = partitionRunnerContext(options)

  const runtimes = options.reactors.map((definition): ReactorRuntime => {
    const deadLetters = createReactorDeadLetters(store, definition.name)
    return {
      definition,
      deadLetters,
      partitions: createPartitionSet({
        partitions: definition.partitions,
        owns: (partition) => options.ownsPartition?.(definition.name, partition) ?? true,
        start: (partition) => startReactorPartition({ ...runnerContext, definition, partition, deadLetters }),
      }),
    }
  })

  return {
    rebalance() {
      for (const runtime of runtimes) runtime.partitions.rebalance()
    },
    control(name) {
      const runtime = runtimes.find((candidate) => candidate.definition.name === name)
      if (!runtime) throw new AnnalsError('NOT_FOUND', `No reactor is named ${name}`)
      const { name: reactor } = runtime.definition
      return {
        partitions: () => [...runtime.partitions.running.keys()],
        partitionStatuses: () =>
          [...runtime.partitions.running].map(([partition, running]) => ({
            partition,
            position: running.position,
            checkpoint: running.checkpoint,
            ...options.lagAt(lagKey('reactor', reactor, partition), running.position),
          })),
        deadLetters: () => runtime.deadLetters.list(),
        async retryDeadLetter(id) {
          const letter = (await runtime.deadLetters.list()).find((candidate) => candidate.id === id)
          if (!letter) return false
          for await (const event of store.readAll({ fromPosition: letter.position, maxCount: 1 })) {
            const { definition } = runtime
            try {
              const routed = definition.route(event)
              const signal = new AbortController().signal
              await routed.handle(
                routed.event,
                reactorContext({
                  ...options,
                  definition,
                  partition: letter.partition,
                  event,
                  signal,
                  aggregateId: routed.aggregateId,
                }),
              )
            } catch (error) {
              log?.warn({ reactor: definition.name, eventId: id, err: error }, 'dead letter retried in vain')
              return false
            }
            await runtime.deadLetters.settle(letter, 'retried')
            return true
          }
          return false
        },
        async discardDeadLetter(id) {
          const letter = (await runtime.deadLetters.list()).find((candidate) => candidate.id === id)
          if (!letter) return false
          await runtime.deadLetters.settle(letter, 'discarded')
          return true
        },
        eventsHandled: () =>
          [...runtime.partitions.running.values()].reduce((sum, p) => sum + p.eventsHandled, 0),
      }
    },
    lagSubjects: () => partitionLagSubjects('reactor', runtimes),
    async stop() {
      await Promise.all(runtimes.map((runtime) => runtime.partitions.stop()))
    },
  }
}
