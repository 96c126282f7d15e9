import { AnnalsError } from '../framework/errors.ts'
import type { ReadModelSource } from '../framework/read-model/read-model-source.ts'
import type { ReadSideContext } from '../framework/read-model/read-side.ts'
import type { ReactorDefinition } from './define-reactor.ts'
import { startReactorPartition, type ReactorDeadLetter, type ReactorPartition } from './reactor-partition.ts'
import type { RetryPolicy } from './retry-policy.ts'

export interface ReactorControl {
  /** The partitions running on this replica. */
  partitions(): readonly string[]
  deadLetters(): readonly ReactorDeadLetter[]
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
  readonly deadLetters: ReactorDeadLetter[]
}

/** Creates the host of a read side's reactors: each reactor runs the partitions `ownsPartition` gives it. */
export function createReactorHost(options: ReactorHostOptions): ReactorHost {
  const { store, log } = options
  const runtimes = options.reactors.map((definition): ReactorRuntime => ({
    definition,
    running: new Map(),
    deadLetters: [],
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
        deadLetters: () => runtime.deadLetters,
        eventsHandled: () => [...runtime.running.values()].reduce((sum, p) => sum + p.eventsHandled, 0),
      }
    },
    async stop() {
      await Promise.all(runtimes.flatMap((runtime) => [...runtime.running.values()].map((p) => p.stop())))
    },
  }
}
