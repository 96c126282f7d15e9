import { AnnalsError, type ReadModelSource, type ReadSideContext } from '../framework/index.ts'
import type { ReactorDefinition } from './define-reactor.ts'
import {
  createReactorDeadLetters,
  type ReactorDeadLetter,
  type ReactorDeadLetters,
} from './reactor-dead-letters.ts'
import { reactorContext, startReactorPartition, type ReactorPartition } from './reactor-partition.ts'
import { type RetryPolicy } from '../framework/internal.ts'

export interface ReactorControl {
  /** The partitions running on this replica. */
  partitions(): readonly string[]
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
}

/** The reactor partitions of a read side that run on this replica. */
export interface ReactorHost {
  /** Starts the partitions this replica owns now and stops those it no longer owns. */
  rebalance(): void
  control(name: string): ReactorControl
  stop(): Promise<void>
}

interface ReactorRuntime {
  readonly definition: ReactorDefinition
  readonly running: Map<string, ReactorPartition>
  readonly deadLetters: ReactorDeadLetters
}

/** Creates the host of a read side's reactors: each reactor runs the partitions `ownsPartition` gives it. */
export function createReactorHost(options: ReactorHostOptions): ReactorHost {
  const { store, log } = options
  const runtimes = options.reactors.map((definition): ReactorRuntime => ({
    definition,
    running: new Map(),
    deadLetters: createReactorDeadLetters(store, definition.name),
  }))

  function start(runtime: ReactorRuntime, partition: string): ReactorPartition {
    return startReactorPartition({
      definition: runtime.definition,
      partition,
      store,
      commands: options.commands,
      readModel: options.readModel,
      deadLetters: runtime.deadLetters,
      ...(options.handlerRetry ? { retry: options.handlerRetry } : {}),
      ...(options.resubscribeRetry ? { resubscribeRetry: options.resubscribeRetry } : {}),
      ...(log ? { log } : {}),
    })
  }

  return {
    rebalance() {
      for (const runtime of runtimes) {
        const { definition, running } = runtime
        for (let n = 0; n < definition.partitions; n++) {
          const partition = String(n)
          const owned = options.ownsPartition?.(definition.name, partition) ?? true
          const current = running.get(partition)
          if (owned && !current) {
            running.set(partition, start(runtime, partition))
          } else if (!owned && current) {
            running.delete(partition)
            void current.stop()
          }
        }
      }
    },
    control(name) {
      const runtime = runtimes.find((candidate) => candidate.definition.name === name)
      if (!runtime) throw new AnnalsError('NOT_FOUND', `No reactor is named ${name}`)
      return {
        partitions: () => [...runtime.running.keys()],
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
        eventsHandled: () => [...runtime.running.values()].reduce((sum, p) => sum + p.eventsHandled, 0),
      }
    },
    async stop() {
      await Promise.all(runtimes.flatMap((runtime) => [...runtime.running.values()].map((p) => p.stop())))
    },
  }
}
