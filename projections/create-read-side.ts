import { AnnalsError } from '../framework/errors.ts'
import type { ProjectionStatus, ReadModelSource } from '../framework/read-model/read-model-source.ts'
import type { ReadSide, ReadSideContext, ReadSideMember } from '../framework/read-model/read-side.ts'
import { isProjectionDefinition, type ProjectionDefinition } from './define-projection.ts'
import { isReactorDefinition } from './define-reactor.ts'
import { createEngineJoins } from './engine-joins.ts'
import { createInMemoryReadModelStore } from './in-memory-read-model-store.ts'
import { createProjectionEngine, type DeadLetter } from './projection-engine.ts'
import { createProjectionRunner } from './projection-runner.ts'
import { createProjectionSource, type LogView, type ProjectionSource } from './projection-source.ts'
import { createReactorHost, type ReactorControl } from './reactor-host.ts'
import type { RetryPolicy } from './retry-policy.ts'

export type { ReactorControl } from './reactor-host.ts'

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

/** The read side with operations beyond what the server needs. */
export interface ProjectionReadSide extends ReadSide {
  projection(name: string): ProjectionControl
  reactor(name: string): ReactorControl
  rebalance(): void
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
  const reactorDefinitions = unique(options.members.filter(isReactorDefinition))
  let head = 0n
  let started = false
  let stopped = false
  const everCaughtUp = new Set<string>()

  const newEngine = (definition: ProjectionDefinition) =>
    createProjectionEngine(
      definition,
      definition.store?.(definition.version) ??
        createInMemoryReadModelStore({ key: definition.key, indexes: definition.indexes }),
      options.handlerRetry,
    )
  const engines = projections.map(newEngine)
  const runner = {
    store,
    ...(options.resubscribeRetry ? { retry: options.resubscribeRetry } : {}),
    ...(log ? { log } : {}),
  }
  const main = createProjectionRunner({ ...runner, name: 'projections', engines })
  const joins = createEngineJoins({ main, runner })
  const logView: LogView = {
    store,
    head: () => (main.position > head ? main.position : head),
    eventsBetween: (from, to) => Math.ceil(Number(to - from) / main.averageEventBytes()),
  }
  const sources = engines.map((engine) => createProjectionSource(engine, logView))
  const sourceByName = new Map(sources.map((source) => [source.name, source]))

  const sourceOf = (name: string): ProjectionSource<Record<string, unknown>> => {
    const source = sourceByName.get(name)
    if (!source) throw new AnnalsError('NOT_FOUND', `No projection is named ${name}`)
    return source
  }
  const reactors = createReactorHost({
    ...options,
    reactors: reactorDefinitions,
    readModel: sourceOf,
  })

  function control(name: string): ProjectionControl {
    const source = sourceOf(name)
    return {
      source,
      status: () => source.status(),
      pause() {
        source.override = 'paused'
        joins.detach(source.engine)
      },
      resume() {
        if (source.override !== 'paused') return
        source.override = undefined
        joins.join(source.engine)
      },
      reset() {
        joins.detach(source.engine)
        source.restart()
        if (source.override !== 'paused') joins.join(source.engine)
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
          joins.join(shadow, () => {
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
    if (started && !stopped) reactors.rebalance()
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
      await Promise.all([main.stop(), joins.stop(), reactors.stop()])
    },
    isCaughtUp() {
      for (const source of sources) if (source.engine.caughtUp) everCaughtUp.add(source.name)
      return everCaughtUp.size === sources.length
    },
    statuses: () => sources.map((source) => source.status()),
    rebalance,
    projection: control,
    reactor: (name) => reactors.control(name),
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
