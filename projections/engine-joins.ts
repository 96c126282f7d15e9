import {
  createProjectionRunner,
  type AnyEngine,
  type ProjectionRunner,
  type ProjectionRunnerOptions,
} from './projection-runner.ts'

export interface EngineJoinsOptions {
  /** The runner that feeds every engine that is level with the log. */
  readonly main: ProjectionRunner
  /** How a private runner subscribes: the store, its retry and its log. */
  readonly runner: Omit<ProjectionRunnerOptions, 'name' | 'engines' | 'afterDispatch'>
}

/** Engines catching up on a private subscription before the main runner takes them over. */
export interface EngineJoins {
  /** Brings an engine that is behind the main runner level with it, then hands it over and calls `onJoined`. */
  join(engine: AnyEngine, onJoined?: () => void): void
  /** Takes an engine out of whichever runner feeds it. */
  detach(engine: AnyEngine): void
  /** Stops every private runner still catching up. */
  stop(): Promise<void>
}

interface Joiner {
  readonly engine: AnyEngine
  readonly runner: ProjectionRunner
}

/**
 * Creates the joins of a read side: an engine that resumes, resets or rebuilds is behind the main runner, so
 * it catches up on its own subscription and joins the main one once level, without holding the others back.
 */
export function createEngineJoins(options: EngineJoinsOptions): EngineJoins {
  const { main } = options
  const joiners = new Set<Joiner>()

  return {
    join(engine, onJoined = () => {}) {
      const level = () => engine.position >= main.lastEventOf(engine.definition.eventTypes)
      if (engine.caughtUp && level()) {
        main.add(engine)
        return onJoined()
      }
      const joiner: Joiner = {
        engine,
        runner: createProjectionRunner({
          ...options.runner,
          name: `join-${engine.definition.name}`,
          engines: [engine],
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
    },
    detach(engine) {
      main.remove(engine)
      for (const joiner of joiners) {
        if (joiner.engine !== engine) continue
        joiners.delete(joiner)
        void joiner.runner.stop()
      }
    },
    async stop() {
      await Promise.all([...joiners].map((joiner) => joiner.runner.stop()))
    },
  }
}
