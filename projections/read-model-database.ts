import type { ProjectionDefinition } from './define-projection.ts'
import { createInMemoryReadModelStore } from './in-memory-read-model-store.ts'
import type { ReadModelStore } from './read-model-store.ts'

/**
 * Where a read side keeps its models: memory (each replica its own copy, rebuilt from the log on each
 * start) or a database every replica shares (see postgres/). It hands out one store per projection.
 */
export interface ReadModelDatabase {
  /** For the start-up log, without credentials. */
  readonly description: string
  /** A store for one projection's rows; a shadow is the copy a rebuild fills before it switches in. */
  store<TRow>(definition: ProjectionDefinition<TRow>, role?: 'live' | 'shadow'): ReadModelStore<TRow>
  /** Makes a shadow the model that serves, in one step, and drops the one it replaces. */
  switchTo?<TRow>(current: ReadModelStore<TRow>, shadow: ReadModelStore<TRow>): Promise<void>
  close(): Promise<void>
}

/** Keeps every model in this process's memory: fast, and rebuilt from the log on each start. */
export function createInMemoryReadModels(): ReadModelDatabase {
  return {
    description: 'memory (rebuilt from the log on each start)',
    store: (definition) => createInMemoryReadModelStore({ key: definition.key, indexes: definition.indexes }),
    close: () => Promise.resolve(),
  }
}
