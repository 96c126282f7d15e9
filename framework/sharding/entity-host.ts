import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { CommandEnvelope, CommandResult } from '../command/command-bus.ts'
import { executeCommand } from '../command/execute-command.ts'
import { loadAggregate, type LoadedAggregate } from '../command/load-aggregate.ts'
import { AnnalsError, ConcurrencyConflictError, isAnnalsError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import { aggregateKey } from './rendezvous-hash.ts'

/** The host found, after a conflict, that another replica owns the aggregate now: route it there. */
export class NotOwnerError extends AnnalsError {
  override readonly name = 'NotOwnerError'
  constructor(aggregate: string, id: string) {
    super('OWNER_UNAVAILABLE', `${aggregate} ${id} moved to another replica`)
  }
}

export interface EntityHostOptions {
  readonly store: EventStore
  readonly aggregates: readonly AnyAggregate[]
  /** At most this many aggregates stay in memory; the least recently used idle ones go first. */
  readonly maxHosted?: number
  /** An aggregate idle this long is passivated (dropped from memory). */
  readonly passivateAfterMs?: number
  /** How often a command is decided again after someone else wrote to its stream. */
  readonly maxConflictRetries?: number
  readonly now?: () => number
}

export interface HostedCommand extends CommandEnvelope {
  readonly commandId: string
}

export interface EntityHost {
  /**
   * Runs a command in its aggregate's mailbox, after every command before it to the same aggregate.
   * `stillOwns` is asked after a conflict; false throws NotOwnerError for the router to re-route.
   */
  execute(command: HostedCommand, stillOwns?: () => boolean): Promise<CommandResult>
  /** Aggregates held in memory now. */
  hosted(): number
  /** Drops idle copies the predicate picks (e.g. those another replica owns after a ring change). */
  drop(predicate: (aggregate: string, id: string) => boolean): number
  /** Drops copies idle longer than the passivation timeout; a timer calls it, tests may too. */
  passivateIdle(): number
  /** Resolves once every command accepted so far has finished. */
  drain(): Promise<void>
  close(): void
}

interface Entry {
  readonly aggregate: AnyAggregate
  readonly id: string
  loaded: LoadedAggregate | undefined
  tail: Promise<unknown>
  pending: number
  lastUsed: number
}

const settled = Promise.resolve()
const ignore = () => undefined

/**
 * Creates the entity host: one mailbox per aggregate, so commands to one aggregate run one after another
 * against the state in memory and never read before they write; idle or least recently used aggregates are
 * passivated and reload from their snapshot and events on the next command.
 */
export function createEntityHost(options: EntityHostOptions): EntityHost {
  const { store } = options
  const maxHosted = options.maxHosted ?? 10_000
  const passivateAfterMs = options.passivateAfterMs ?? 5 * 60_000
  const maxRetries = options.maxConflictRetries ?? 5
  const now = options.now ?? Date.now
  const byName = new Map(options.aggregates.map((a) => [a.name, a]))
  // Insertion order is recency order: every command moves its entry to the end.
  const entries = new Map<string, Entry>()
  let inFlight = 0
  let drained: (() => void)[] = []
  const sweep = setInterval(() => passivateIdle(), Math.max(10, Math.floor(passivateAfterMs / 2))).unref()

  const entryFor = (aggregate: AnyAggregate, id: string): Entry => {
    const key = aggregateKey(aggregate.name, id)
    let entry = entries.get(key)
    if (entry) entries.delete(key)
    else entry = { aggregate, id, loaded: undefined, tail: settled, pending: 0, lastUsed: now() }
    entries.set(key, entry)
    return entry
  }
  const evictOverflow = () => {
    if (entries.size <= maxHosted) return
    for (const [key, entry] of entries) {
      if (entries.size <= maxHosted) break
      if (entry.pending === 0) entries.delete(key)
    }
  }
  const passivateIdle = () => {
    const cutoff = now() - passivateAfterMs
    let dropped = 0
    for (const [key, entry] of entries) {
      if (entry.lastUsed > cutoff) break
      if (entry.pending > 0) continue
      entries.delete(key)
      dropped++
    }
    return dropped
  }
  const run = async (entry: Entry, command: HostedCommand, stillOwns: () => boolean) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const loaded = entry.loaded ?? (await loadAggregate(store, entry.aggregate, entry.id))
        entry.loaded = loaded
        const executed = await executeCommand({
          store,
          aggregate: entry.aggregate,
          id: entry.id,
          command: command.command,
          input: command.input,
          commandId: command.commandId,
          loaded,
        })
        // Keep only what the next command needs; the result (events, data) would stay alive with the entry.
        entry.loaded = {
          state: executed.state,
          revision: executed.revision,
          recentCommands: executed.recentCommands,
        }
        return executed.result
      } catch (error) {
        // A refusal leaves the state as it was; anything else may have left the copy behind the stream.
        if (!isRefusal(error)) entry.loaded = undefined
        if (!(error instanceof ConcurrencyConflictError) || attempt >= maxRetries) throw error
        if (!stillOwns()) throw new NotOwnerError(entry.aggregate.name, entry.id)
      }
    }
  }

  return {
    execute(command, stillOwns = () => true) {
      const aggregate = byName.get(command.aggregate)
      if (aggregate === undefined) {
        return Promise.reject(
          new AnnalsError('UNKNOWN_COMMAND', `No aggregate is named "${command.aggregate}"`),
        )
      }
      const entry = entryFor(aggregate, command.aggregateId)
      entry.pending++
      inFlight++
      // Cleanup runs before the caller sees the result, so counts and idleness are exact when it resumes.
      const result = entry.tail
        .then(() => run(entry, command, stillOwns))
        .finally(() => {
          entry.pending--
          entry.lastUsed = now()
          if (entry.pending === 0) entry.tail = settled
          inFlight--
          evictOverflow()
          if (inFlight === 0) for (const resolve of drained.splice(0)) resolve()
        })
      entry.tail = result.then(ignore, ignore)
      return result
    },
    hosted: () => entries.size,
    drop(predicate) {
      let dropped = 0
      for (const [key, entry] of entries) {
        if (entry.pending === 0 && predicate(entry.aggregate.name, entry.id)) {
          entries.delete(key)
          dropped++
        }
      }
      return dropped
    },
    passivateIdle,
    drain() {
      if (inFlight === 0) return Promise.resolve()
      return new Promise<void>((resolve) => drained.push(resolve))
    },
    close() {
      clearInterval(sweep)
      entries.clear()
      drained = []
    },
  }
}

function isRefusal(error: unknown): boolean {
  if (!isAnnalsError(error)) return false
  return !['CONCURRENCY_CONFLICT', 'STORE_UNAVAILABLE', 'INTERNAL', 'MALFORMED_EVENT'].includes(error.code)
}
