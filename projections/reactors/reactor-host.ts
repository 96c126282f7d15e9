import type { PartitionStatus } from '../../framework/index.ts'
import type { ReactorDefinition } from './define-reactor.ts'
import {
  createReactorDeadLetters,
  type ReactorDeadLetter,
  type ReactorDeadLetters,
} from './reactor-dead-letters.ts'
import { reactorContext, startReactorPartition, type ReactorPartition } from './reactor-partition.ts'
import {
  createPartitionHost,
  createPartitionSet,
  partitionRunnerContext,
  partitionStatuses,
  type PartitionHost,
  type PartitionHostOptions,
  type PartitionRuntime,
} from '../partition-set.ts'

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

export interface ReactorHostOptions extends PartitionHostOptions {
  readonly reactors: readonly ReactorDefinition[]
}

/** The reactor partitions of a read side that run on this replica. */
export type ReactorHost = PartitionHost<ReactorControl>

interface ReactorRuntime extends PartitionRuntime<ReactorPartition> {
  readonly definition: ReactorDefinition
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

  return createPartitionHost({
    kind: 'reactor',
    runtimes,
    control: (runtime): ReactorControl => ({
      partitions: () => [...runtime.partitions.running.keys()],
      partitionStatuses: () => partitionStatuses('reactor', runtime, options.lagAt),
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
    }),
  })
}
