import { AnnalsError } from '../framework/errors.ts'
import type { ProjectionStatus, ReadModelSource } from '../framework/read-model/read-model-source.ts'
import type { ReadSide, ReadSideContext, ReadSideMember } from '../framework/read-model/read-side.ts'
import { isProjectionDefinition, type ProjectionDefinition } from './define-projection.ts'
import { isReactorDefinition, type ReactorDefinition } from './define-reactor.ts'
import { createInMemoryReadModelStore } from './in-memory-read-model-store.ts'
import { createProjectionEngine, type DeadLetter } from './projection-engine.ts'
import { createProjectionRunner, type AnyEngine, type ProjectionRunner } from './projection-runner.ts'
import { createProjectionSource, type LogView, type ProjectionSource } from './projection-source.ts'
import { startReactorPartition, type ReactorDeadLetter, type ReactorPartition } from './reactor-partition.ts'
import type { RetryPolicy } from './retry-policy.ts'

export interface ReadSideOptions extends ReadSideContext {
  readonly members: readonly ReadSideMember[]
  /** Defaults for handler retries, for projections and reactors that declare none. */
  readonly handlerRetry?: Partial<RetryPolicy>
  /** How a dropped subscription or an unavailable store is retried (back-off). */
  readonly resubscribeRetry?: Partial<RetryPolicy>
  /** How often the head of `$all` is read for lag. Default 1,000 ms. */
  readonly headRefreshMs?: number
}

/** Operations on one projection: for tests, tools and an admin surface. */
export interface ProjectionControl {
  readonly source: ReadModelSource
  status(): ProjectionStatus
  /** Stops folding events; reads go on serving the model as it is. */
  pause(): void
  /** Catches up from where it paused, then follows live with the others. */
  resume(): void
  /** Empties the model and rebuilds it from the start of the log (readers see it fill again). */
  reset(): void
  /**
   * Builds a fresh copy in the background while the current one serves, and switches in one step once the
   * copy has caught up; pass a new version of the definition (same name and key) to deploy changed handlers.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  rebuild(definition?: ProjectionDefinition<any>): Promise<void>
  deadLetters(): readonly DeadLetter[]
  retryDeadLetter(id: string): boolean
  discardDeadLetter(id: string): boolean
}

export interface ReactorControl {
  /** The partitions running on this replica. */
  partitions(): readonly string[]
  deadLetters(): readonly ReactorDeadLetter[]
  eventsHandled(): number
}

/** The read side with operations beyond what the server needs. */
export interface ProjectionReadSide extends ReadSide {
  projection(name: string): ProjectionControl
  reactor(name: string): ReactorControl
  rebalance(): void
}

interface Joiner {
  readonly engine: AnyEngine
  readonly runner: ProjectionRunner
}

interface ReactorRuntime {
  readonly definition: ReactorDefinition
  readonly running: Map<string, ReactorPartition>
  readonly deadLetters: ReactorDeadLetter[]
}

/**
 * Creates the read side of a service from its projections and reactors: one runner feeds every projection
 * from a single subscription; reactors run the partitions this replica owns. This is what the server calls
 * (through any member's `createReadSide`), and what a test or a tool can call directly.
 *
 * @example
 * const readSide = createReadSide({ store, commands, members: [BatteryStatus, Dispatcher] })
 * await readSide.start()
 */
export function createReadSide(options: ReadSideOptions): ProjectionReadSide {
  const { store, log } = options
  const projections = unique(options.members.filter(isProjectionDefinition))
  const reactors = unique(options.members.filter(isReactorDefinition))
  let head = 0n
  let started = false
  let stopped = false
  const everCaughtUp = new Set<string>()
  const joiners = new Set<Joiner>()

  const newEngine = (definition: ProjectionDefinition) =>
    createProjectionEngine(
      definition,
      definition.store?.(definition.version) ??
        createInMemoryReadModelStore({ key: definition.key, indexes: definition.indexes }),
      options.handlerRetry,
    )
  const engines = projections.map(newEngine)
  const main = createProjectionRunner({
    store,
    name: 'projections',
    engines,
    ...(options.resubscribeRetry ? { retry: options.resubscribeRetry } : {}),
    ...(log ? { log } : {}),
  })
  const logView: LogView = {
    store,
    head: () => (main.position > head ? main.position : head),
    eventsBetween: (from, to) => Math.ceil(Number(to - from) / main.averageEventBytes()),
  }
  const sources = engines.map((engine) => createProjectionSource(engine, logView))
  const sourceByName = new Map(sources.map((source) => [source.name, source]))
  const reactorRuntimes = reactors.map((definition): ReactorRuntime => ({
    definition,
    running: new Map(),
    deadLetters: [],
  }))

  const sourceOf = (name: string): ProjectionSource<Record<string, unknown>> => {
    const source = sourceByName.get(name)
    if (!source) throw new AnnalsError('NOT_FOUND', `No projection is named ${name}`)
    return source
  }

  /** Brings an engine that is behind the main runner level with it on a private subscription, then hands it over. */
  function join(engine: AnyEngine, onJoined: () => void = () => {}): void {
    const level = () => engine.position >= main.lastEventOf(engine.definition.eventTypes)
    if (engine.caughtUp && level()) {
      main.add(engine)
      return onJoined()
    }
    const joiner: Joiner = {
      engine,
      runner: createProjectionRunner({
        store,
        name: `join-${engine.definition.name}`,
        engines: [engine],
        ...(options.resubscribeRetry ? { retry: options.resubscribeRetry } : {}),
        ...(log ? { log } : {}),
        afterDispatch: () => {
          if (!engine.caughtUp || !level() || !joiners.has(joiner)) return
          joiners.delete(joiner)
          joiner.runner.remove(engine)
          void joiner.runner.stop()
          main.add(engine)
          onJoined()
        },
      }),
    }
    joiners.add(joiner)
    joiner.runner.start()
  }

  /** Takes an engine out of whichever runner feeds it. */
  function detach(engine: AnyEngine): void {
    main.remove(engine)
    for (const joiner of joiners) {
      if (joiner.engine !== engine) continue
      joiners.delete(joiner)
      void joiner.runner.stop()
    }
  }

  function control(name: string): ProjectionControl {
    const source = sourceOf(name)
    return {
      source,
      status: () => source.status(),
      pause() {
        source.override = 'paused'
        detach(source.engine)
      },
      resume() {
        if (source.override !== 'paused') return
        source.override = undefined
        join(source.engine)
      },
      reset() {
        detach(source.engine)
        source.restart()
        if (source.override !== 'paused') join(source.engine)
      },
      rebuild(definition) {
        const current = source.engine
        if (definition && (definition.name !== name || definition.key !== current.definition.key)) {
          throw new AnnalsError('BAD_CONFIG', `A rebuild of ${name} needs a definition with its name and key`)
        }
        if (definition?.eventTypes.some((type) => !main.eventTypes.includes(type))) {
          throw new AnnalsError(
            'BAD_CONFIG',
            `A rebuild of ${name} cannot read event types the service did not start with`,
          )
        }
        const shadow = newEngine(definition ?? current.definition)
        return new Promise<void>((resolve) =>
          join(shadow, () => {
            main.remove(current)
            current.stop()
            source.switchTo(shadow)
            resolve()
          }),
        )
      },
      deadLetters: () => source.engine.deadLetters(),
      retryDeadLetter: (id) => source.engine.retryDeadLetter(id),
      discardDeadLetter: (id) => source.engine.discardDeadLetter(id),
    }
  }

  function rebalance(): void {
    if (!started || stopped) return
    for (const runtime of reactorRuntimes) {
      const { definition, running } = runtime
      for (let n = 0; n < definition.partitions; n++) {
        const partition = String(n)
        const owned = options.ownsPartition?.(definition.name, partition) ?? true
        const current = running.get(partition)
        if (owned && !current) {
          running.set(
            partition,
            startReactorPartition({
              definition,
              partition,
              store,
              commands: options.commands,
              readModel: (name) => sourceOf(name),
              deadLetters: runtime.deadLetters,
              ...(options.handlerRetry ? { retry: options.handlerRetry } : {}),
              ...(options.resubscribeRetry ? { resubscribeRetry: options.resubscribeRetry } : {}),
              ...(log ? { log } : {}),
            }),
          )
        } else if (!owned && current) {
          running.delete(partition)
          void current.stop()
        }
      }
    }
  }

  let headTimer: NodeJS.Timeout | undefined
  const refreshHead = () => {
    store.headPosition().then(
      (position) => {
        if (position > head) head = position
      },
      () => {},
    )
  }

  return {
    sources,
    async start() {
      if (started) return
      started = true
      if (engines.length > 0) main.start()
      refreshHead()
      headTimer = setInterval(refreshHead, options.headRefreshMs ?? 1_000)
      headTimer.unref()
      rebalance()
      await Promise.resolve()
    },
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(headTimer)
      for (const source of sources) {
        source.override = 'stopped'
        source.engine.stop()
      }
      await Promise.all([
        main.stop(),
        ...[...joiners].map((joiner) => joiner.runner.stop()),
        ...reactorRuntimes.flatMap((runtime) => [...runtime.running.values()].map((p) => p.stop())),
      ])
    },
    isCaughtUp() {
      for (const source of sources) if (source.engine.caughtUp) everCaughtUp.add(source.name)
      return everCaughtUp.size === sources.length
    },
    statuses: () => sources.map((source) => source.status()),
    rebalance,
    projection: control,
    reactor(name) {
      const runtime = reactorRuntimes.find((candidate) => candidate.definition.name === name)
      if (!runtime) throw new AnnalsError('NOT_FOUND', `No reactor is named ${name}`)
      return {
        partitions: () => [...runtime.running.keys()],
        deadLetters: () => runtime.deadLetters,
        eventsHandled: () => [...runtime.running.values()].reduce((sum, p) => sum + p.eventsHandled, 0),
      }
    },
  }
}

function unique<T extends { readonly name: string; readonly kind: string }>(members: readonly T[]): T[] {
  const seen = new Map<string, T>()
  for (const member of members) {
    const known = seen.get(member.name)
    if (known && known !== member) {
      throw new AnnalsError('BAD_CONFIG', `Two ${member.kind}s are named ${member.name}`)
    }
    seen.set(member.name, member)
  }
  return [...seen.values()]
}
