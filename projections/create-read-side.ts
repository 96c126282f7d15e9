import {
  AnnalsError,
  type ProjectionOperations,
  type ProjectionStatus,
  type ReadModelSource,
  type ReadSide,
  type ReadSideContext,
  type ReadSideOption,
} from '../framework/index.ts'
import type { ProjectionDefinition } from './define-projection.ts'
import type { ReactorDefinition } from './reactors/define-reactor.ts'
import { randomUUID } from 'node:crypto'
import { createDurableChangeFeed, type DurableChangeFeed } from './durable-change-feed.ts'
import { createLocalProjections } from './local-projections.ts'
import type { ProjectionHost } from './projection-host.ts'
import { createProjectionEngine, type DeadLetter } from './projection-engine.ts'
import { createSharedProjections } from './shared-projections.ts'
import { createProjectionSource, type ProjectionSource } from './projection-source.ts'
import { lagAt, measureLag, type LagSubject, type LogView, type MeasuredLag } from './lag.ts'
import { createReactorHost, type ReactorControl } from './reactors/reactor-host.ts'
import type { ReadModelDatabase } from './read-models/read-model-database.ts'
import { resolveReadModelDatabase } from './read-models/resolve-read-model-database.ts'
import { type RetryPolicy } from '../framework/internal.ts'
import type { WorkflowDefinition } from './workflows/define-workflow.ts'
import { systemClock, type WorkflowClock } from './workflows/workflow-clock.ts'
import { pendingScheduledCommandsProjection } from './workflows/pending-scheduled-commands.ts'
import { scheduledCommandsWorkflow } from './workflows/scheduled-commands.ts'
import { createWorkflowHost, type WorkflowControl } from './workflows/workflow-host.ts'

export type { ReactorControl } from './reactors/reactor-host.ts'
export type { WorkflowControl } from './workflows/workflow-host.ts'

/** A projection definition of any row type, as a read side holds them together. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = ProjectionDefinition<any>

export interface ReadSideOptions {
  readonly projections?: readonly AnyProjection[]
  readonly reactors?: readonly ReactorDefinition[]
  readonly workflows?: readonly WorkflowDefinition[]
  /**
   * Fire scheduled commands (`schedule<Command>` mutations, `scheduleCommand` in reactors and workflows): runs
   * the `scheduledCommands` workflow and the `pendingScheduledCommands` read model (listed in GraphQL), and
   * createServer hosts the ScheduledCommand aggregate. Default off.
   */
  readonly scheduledCommands?: boolean | { readonly partitions?: number }
  /** The clock workflow timers run on; default the system clock (a test passes one it moves). */
  readonly clock?: WorkflowClock
  /**
   * Where the read models live: a PostgreSQL connection string, `'memory'`, or a database object; default
   * DATABASE_URL, else memory.
   */
  readonly database?: string | ReadModelDatabase
  /** Defaults for handler retries, for projections and reactors that declare none. */
  readonly handlerRetry?: Partial<RetryPolicy>
  /** How a dropped subscription or an unavailable store is retried (back-off). */
  readonly resubscribeRetry?: Partial<RetryPolicy>
  /** How often the head of `$all` is read for lag. Default 1,000 ms. */
  readonly headRefreshMs?: number
}

/** Operations on one projection: for tests, tools and the ops endpoint (the framework's ProjectionOperations). */
export interface ProjectionControl extends ProjectionOperations {
  readonly source: ReadModelSource
  status(): ProjectionStatus
  /** Stops folding events; reads go on serving the model as it is. */
  pause(): void
  /** Catches up from where it paused, then follows live with the others. */
  resume(): void
  /** Empties the model and rebuilds it from the start of the log (readers see it fill again). */
  reset(): Promise<void>
  /**
   * Builds a fresh copy in the background while the current one serves, and switches in one step once the
   * copy has caught up; pass a new version of the definition (same name and key) to deploy changed handlers.
   */

  rebuild(definition?: AnyProjection): Promise<void>
  /**
   * Resolves once the projection has handled the log up to `position` (an event it folds): each event in its
   * row or held as a dead letter. CONSISTENCY_TIMEOUT after `timeoutMs` (default 10,000).
   */
  reached(position: bigint, timeoutMs?: number): Promise<void>
  deadLetters(): readonly DeadLetter[]
  retryDeadLetter(id: string): Promise<boolean>
  discardDeadLetter(id: string): Promise<boolean>
}

/** The read side with operations beyond what the server needs. */
export interface ProjectionReadSide extends ReadSide {
  readonly reactorNames: readonly string[]
  projection(name: string): ProjectionControl
  reactor(name: string): ReactorControl
  workflow(name: string): WorkflowControl
  rebalance(): void
}

/** The `readSide` option of createServer: create() runs it with the server's context. */
export interface ReadSideFactory extends ReadSideOption {
  create(context: ReadSideContext): Promise<ProjectionReadSide>
}

/**
 * Declares the read side of a service from its projections and reactors, for createServer's `readSide`
 * option: one runner feeds every projection from a single subscription; reactors run the partitions this
 * replica owns. A test or a tool calls `create` itself with a store and a command bus.
 *
 * @example
 * const app = await createServer({
 *   aggregates: [Battery, Dispatch],
 *   readSide: createReadSide({ projections: [BatteryStatus], reactors: [Dispatcher] }),
 * })
 */
export function createReadSide(options: ReadSideOptions): ReadSideFactory {
  const scheduling = options.scheduledCommands
  const projections = unique([
    ...(options.projections ?? []),
    ...(scheduling ? [pendingScheduledCommandsProjection()] : []),
  ])
  const reactors = unique(options.reactors ?? [])
  const workflows = unique([
    ...(options.workflows ?? []),
    ...(scheduling ? [scheduledCommandsWorkflow(scheduling === true ? {} : scheduling)] : []),
  ])
  return {
    ...(scheduling ? { scheduledCommands: true } : {}),
    workflows: workflows.map(({ name, description, state }) => ({
      name,
      state,
      ...(description === undefined ? {} : { description }),
    })),
    models: projections.map(({ name, schema, key, description }) => ({
      name,
      schema,
      key,
      ...(description === undefined ? {} : { description }),
    })),
    create(context) {
      const database = resolveReadModelDatabase(options.database, context)
      context.log?.info({ readModels: database.description }, 'Annals read models')
      return Promise.resolve(runReadSide({ ...options, projections, reactors, workflows, context, database }))
    },
  }
}

interface RunOptions extends ReadSideOptions {
  readonly projections: readonly AnyProjection[]
  readonly reactors: readonly ReactorDefinition[]
  readonly workflows: readonly WorkflowDefinition[]
  readonly context: ReadSideContext
  readonly database: ReadModelDatabase
}

function runReadSide(options: RunOptions): ProjectionReadSide {
  const { context, database, projections } = options
  const { store, log } = context
  let head = 0n
  const lags = new Map<string, MeasuredLag>()
  let started = false
  let stopped = false
  const everCaughtUp = new Set<string>()

  const newEngine = (definition: AnyProjection, role: 'live' | 'shadow' = 'live') =>
    createProjectionEngine(definition, database.store(definition, role), options.handlerRetry)
  const engines = projections.map((definition) => newEngine(definition))
  const runner = {
    store,
    ...(options.resubscribeRetry ? { retry: options.resubscribeRetry } : {}),
    ...(log ? { log } : {}),
  }
  const logView: LogView = {
    store,
    head: () => {
      const position = host.position()
      return position > head ? position : head
    },
    eventsBetween: (from, to) => Math.ceil(Number(to - from) / host.averageEventBytes()),
    lagOf: (key) => lags.get(key),
  }
  const lagOfPartition = (key: string, position: bigint) => lagAt(logView, key, position)
  const { shared } = database
  const feeds = new Map<string, DurableChangeFeed<unknown>>()
  const sources = engines.map((engine) => {
    if (!shared) return createProjectionSource(engine, logView)
    const feed = createDurableChangeFeed<unknown>({ model: engine.definition.name, shared })
    feeds.set(engine.definition.name, feed)
    return createProjectionSource(engine, logView, { feed })
  })
  const host: ProjectionHost = shared
    ? createSharedProjections({
        sources,
        feeds,
        database: { ...database, shared },
        runner,
        replica: context.replica ?? `replica-${randomUUID()}`,
        shadowOf: (source) => newEngine(source.engine.definition, 'shadow'),
        ...(log ? { log } : {}),
      })
    : createLocalProjections({ engines, runner, database })
  const sourceByName = new Map(sources.map((source) => [source.name, source]))

  const sourceOf = (name: string): ProjectionSource<Record<string, unknown>> => {
    const source = sourceByName.get(name)
    if (!source) throw new AnnalsError('NOT_FOUND', `No projection is named ${name}`)
    return source as ProjectionSource<Record<string, unknown>>
  }
  const reactors = createReactorHost({
    ...context,
    reactors: options.reactors,
    readModel: sourceOf,
    ...(options.handlerRetry ? { handlerRetry: options.handlerRetry } : {}),
    ...(options.resubscribeRetry ? { resubscribeRetry: options.resubscribeRetry } : {}),
    lagAt: lagOfPartition,
  })
  const workflows = createWorkflowHost({
    ...context,
    workflows: options.workflows,
    readModel: sourceOf,
    clock: options.clock ?? systemClock,
    ...(options.handlerRetry ? { handlerRetry: options.handlerRetry } : {}),
    ...(options.resubscribeRetry ? { resubscribeRetry: options.resubscribeRetry } : {}),
    lagAt: lagOfPartition,
  })

  /** The projections a rebuild started here is filling a copy of. */
  const rebuilding = new Set<string>()

  function control(name: string): ProjectionControl {
    const source = sourceOf(name)
    return {
      source,
      status: () => source.status(),
      rebuilding: () => rebuilding.has(name),
      runsOn: () => host.runsOn(source),
      pause() {
        host.pause(source)
        source.override = 'paused'
      },
      resume() {
        if (source.override !== 'paused' && source.override !== 'failed') return
        host.resume(source)
        source.override = undefined
        source.failure = undefined
      },
      reset: () => host.reset(source),
      async rebuild(definition) {
        const current = source.engine
        if (definition && (definition.name !== name || definition.key !== current.definition.key)) {
          throw new AnnalsError('BAD_CONFIG', `A rebuild of ${name} needs a definition with its name and key`)
        }
        rebuilding.add(name)
        try {
          await host.rebuild(source, newEngine(definition ?? current.definition, 'shadow'))
        } finally {
          rebuilding.delete(name)
        }
      },
      reached: (position, timeoutMs = 10_000) => source.reached(position, timeoutMs),
      deadLetters: () => source.engine.deadLetters(),
      retryDeadLetter: (id) => source.engine.retryDeadLetter(id),
      discardDeadLetter: (id) => source.engine.discardDeadLetter(id),
    }
  }

  function rebalance(): void {
    if (!started || stopped) return
    reactors.rebalance()
    workflows.rebalance()
  }

  let headTimer: NodeJS.Timeout | undefined
  let refreshing = false
  // One refresh at a time: a slow store skips a tick rather than piling reads up.
  const refreshHead = () => {
    if (refreshing) return
    refreshing = true
    store
      .headPosition()
      .then(async (position) => {
        if (position > head) head = position
        const subjects: LagSubject[] = [
          ...sources.map((source) => ({
            key: source.name,
            position: () => source.status().position,
            eventTypes: source.engine.definition.eventTypes,
          })),
          ...reactors.lagSubjects(),
          ...workflows.lagSubjects(),
        ]
        // A partition that moved to another replica is measured there now.
        const keys = new Set(subjects.map((subject) => subject.key))
        for (const key of lags.keys()) if (!keys.has(key)) lags.delete(key)
        for (const subject of subjects) {
          const from = subject.position()
          if (from >= logView.head()) lags.delete(subject.key)
          else lags.set(subject.key, await measureLag(store, subject, from))
        }
      })
      .catch(() => {})
      .finally(() => {
        refreshing = false
      })
  }

  return {
    sources,
    async start() {
      if (started) return
      started = true
      host.start()
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
      await Promise.all([host.stop(), reactors.stop(), workflows.stop()])
      for (const source of sources) {
        source.override = 'stopped'
        source.engine.stop()
      }
      await database.close()
    },
    isCaughtUp() {
      for (const source of sources) if (host.caughtUp(source)) everCaughtUp.add(source.name)
      return everCaughtUp.size === sources.length && host.unready().length === 0
    },
    unready: () => host.unready(),
    statuses: () => sources.map((source) => source.status()),
    rebalance,
    reactorNames: options.reactors.map((reactor) => reactor.name),
    projection: control,
    reactor: (name) => reactors.control(name),
    workflow: (name) => workflows.control(name),
    workflows: options.workflows.map((definition) => definition.name),
    workflowView: (name) => workflows.control(name),
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
