import { AnnalsError } from '../framework/index.ts'
import { createEngineJoins } from './engine-joins.ts'
import type { ProjectionHost } from './projection-host.ts'
import { createProjectionRunner, type AnyEngine, type ProjectionRunnerOptions } from './projection-runner.ts'
import type { ReadModelDatabase } from './read-models/read-model-database.ts'

export interface LocalProjectionsOptions {
  readonly engines: readonly AnyEngine[]
  readonly runner: Omit<ProjectionRunnerOptions, 'name' | 'engines' | 'afterDispatch'>
  readonly database: ReadModelDatabase
}

/**
 * Runs every projection on this replica, from one subscription: an engine that resumes, resets or
 * rebuilds catches up on a subscription of its own and joins the main one once level with it.
 */
export function createLocalProjections(options: LocalProjectionsOptions): ProjectionHost {
  const { engines, database } = options
  const main = createProjectionRunner({ ...options.runner, name: 'projections', engines })
  const joins = createEngineJoins({ main, runner: options.runner })

  return {
    start() {
      if (engines.length > 0) main.start()
    },
    async stop() {
      await Promise.all([main.stop(), joins.stop()])
    },
    pause(source) {
      joins.detach(source.engine)
    },
    resume(source) {
      joins.join(source.engine)
    },
    async reset(source) {
      joins.detach(source.engine)
      await source.restart()
      if (source.override !== 'paused') joins.join(source.engine)
    },
    async rebuild(source, shadow) {
      const current = source.engine
      if (shadow.definition.eventTypes.some((type) => !main.eventTypes.includes(type))) {
        throw new AnnalsError(
          'BAD_CONFIG',
          `A rebuild of ${source.name} cannot read event types the service did not start with`,
        )
      }
      // Level with the log, the shadow is fed with the current model until the store switches them.
      await new Promise<void>((resolve) => joins.join(shadow, resolve))
      main.remove(current)
      current.stop()
      await current.drained()
      await database.switchTo?.(current.store, shadow.store)
      source.switchTo(shadow)
    },
    caughtUp: (source) => source.engine.caughtUp,
    runsOn: () => Promise.resolve(undefined),
    unready: () => [],
    position: () => main.position,
    averageEventBytes: () => main.averageEventBytes(),
  }
}
