import type { RowChange } from '../../framework/index.ts'
import type { ProjectionDefinition } from '../define-projection.ts'
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
  /** Present when every replica shares the database: projections then run under leases, one replica each. */
  readonly shared?: SharedReadModels
  close(): Promise<void>
}

/** Where a model stands as its owner committed it, wherever that replica is. */
export interface SharedCheckpoint {
  readonly name: string
  /** The table the model's view reads now (it changes when a rebuild switches in). */
  readonly table: string
  readonly position: bigint
  readonly settled: bigint
  /** The first unsettled position of each held key; undefined when some are held and must be read. */
  readonly held: ReadonlyMap<string, bigint> | undefined
  /** The model has reached the head of the log at least once. */
  readonly caughtUp: boolean
  /** The change feed holds no change at or before it (absent: unchanged by this commit). */
  readonly changesFrom?: bigint
  /** How many changes the commit kept for the feed. */
  readonly changes: number
}

/** A change as the durable feed keeps it: its order among all the model's changes, and whether it was late. */
export interface StoredChange<TRow> {
  readonly seq: bigint
  readonly change: RowChange<TRow>
  readonly late: boolean
}

/** What replicas sharing one database coordinate through it: leases, commits, the change feed. */
export interface SharedReadModels {
  readonly leaseMs: number
  /** Takes the lease on a projection when it is free or expired; its fence, or undefined when another holds it. */
  acquire(name: string, replica: string): Promise<bigint | undefined>
  /** Extends a lease; false when it was lost (another replica took it over). */
  renew(name: string, replica: string, fence: bigint): Promise<boolean>
  release(name: string, replica: string, fence: bigint): Promise<void>
  /** The replica whose lease on a projection runs now, if one does. */
  holder(name: string): Promise<string | undefined>
  /** Every model's committed checkpoint, now. */
  checkpoints(): Promise<SharedCheckpoint[]>
  /** The held keys of a model's checkpoint. */
  heldOf(name: string): Promise<Map<string, bigint>>
  /**
   * Changes after `from.seq` that a reader resuming after `from.position` needs, oldest first; where the feed
   * starts, and the newest change's order when read.
   */
  changes(
    name: string,
    from: { readonly seq?: bigint; readonly position?: bigint },
    limit: number,
  ): Promise<{ changes: StoredChange<unknown>[]; changesFrom: bigint; headSeq: bigint }>
  /** Forgets all but the newest `retention` changes of a model. */
  prune(name: string, retention: number): Promise<void>
  /** Reports every commit of any replica; `onState` says when the notifications stop and start again. */
  listen(onCommit: (checkpoint: SharedCheckpoint) => void, onState: (connected: boolean) => void): void
  /** Whether the database answers and the notifications flow. */
  ping(): Promise<boolean>
}

/** Keeps every model in this process's memory: fast, and rebuilt from the log on each start. */
export function createInMemoryReadModels(): ReadModelDatabase {
  return {
    description: 'memory (rebuilt from the log on each start)',
    store: (definition) => createInMemoryReadModelStore({ key: definition.key, indexes: definition.indexes }),
    close: () => Promise.resolve(),
  }
}
