import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { CommandEnvelope, CommandResult } from '../command/command-bus.ts'
import { executeCommand } from '../command/execute-command.ts'
import {
  executeCommandGroup,
  MAX_APPEND_BYTES,
  type CommandOutcome,
} from '../command/execute-command-group.ts'
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
  /** At most this many waiting commands are decided together and written in one append (default 128). */
  readonly maxGroupSize?: number
  /** A group stops before its events pass this many bytes (default EventStoreDB's 1 MiB append limit). */
  readonly maxAppendBytes?: number
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

interface Job {
  readonly command: HostedCommand
  readonly stillOwns: () => boolean
  readonly resolve: (result: CommandResult) => void
  readonly reject: (error: unknown) => void
  /** Set once the caller is answered, so no path can answer (and count) it twice. */
  answered: boolean
}

interface Entry {
  readonly aggregate: AnyAggregate
  readonly id: string
  loaded: LoadedAggregate | undefined
  /** The mailbox: commands accepted and not yet taken by the loop. */
  readonly queue: Job[]
  /** Whether the mailbox loop runs (at most one per entry). */
  running: boolean
  /** Commands accepted and not yet answered (queued or being decided). */
  pending: number
  lastUsed: number
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Creates the entity host: one mailbox per aggregate, so commands to one aggregate run one after another
 * against the state in memory and never read before they write; idle or least recently used aggregates are
 * passivated and reload from their snapshot and events on the next command. Commands that wait in one
 * mailbox together are decided in order and written in one append (executeCommandGroup).
 */
export function createEntityHost(options: EntityHostOptions): EntityHost {
  const { store } = options
  const maxHosted = options.maxHosted ?? 10_000
  const passivateAfterMs = options.passivateAfterMs ?? 5 * 60_000
  const maxRetries = options.maxConflictRetries ?? 5
  const maxGroup = Math.max(1, options.maxGroupSize ?? 128)
  const maxAppendBytes = options.maxAppendBytes ?? MAX_APPEND_BYTES
  const now = options.now ?? Date.now
  const byName = new Map(options.aggregates.map((a) => [a.name, a]))
  // Insertion order is recency order: every command moves its entry to the end.
  const entries = new Map<string, Entry>()
  // The entry touched last, while hosted: it is already at the end, so a hot aggregate skips the lookup.
  let last: Entry | undefined
  let inFlight = 0
  let drained: (() => void)[] = []
  const sweep = setInterval(() => passivateIdle(), Math.max(10, Math.floor(passivateAfterMs / 2))).unref()

  const entryFor = (aggregate: AnyAggregate, id: string): Entry => {
    if (last !== undefined && last.id === id && last.aggregate === aggregate) return last
    const key = aggregateKey(aggregate.name, id)
    let entry = entries.get(key)
    if (entry) entries.delete(key)
    else entry = { aggregate, id, loaded: undefined, queue: [], running: false, pending: 0, lastUsed: now() }
    entries.set(key, entry)
    last = entry
    return entry
  }
  const remove = (key: string, entry: Entry) => {
    entries.delete(key)
    if (entry === last) last = undefined
  }
  const evictOverflow = () => {
    if (entries.size <= maxHosted) return
    for (const [key, entry] of entries) {
      if (entries.size <= maxHosted) break
      if (entry.pending === 0) remove(key, entry)
    }
  }
  const passivateIdle = () => {
    const cutoff = now() - passivateAfterMs
    let dropped = 0
    for (const [key, entry] of entries) {
      if (entry.lastUsed > cutoff) break
      if (entry.pending > 0) continue
      remove(key, entry)
      dropped++
    }
    return dropped
  }
  // Counts and idleness are updated before the caller sees the answer, so they are exact when it resumes.
  const settle = (entry: Entry, job: Job, outcome: CommandOutcome) => {
    if (job.answered) return
    job.answered = true
    entry.pending--
    entry.lastUsed = now()
    inFlight--
    evictOverflow()
    if (inFlight === 0) for (const resolve of drained.splice(0)) resolve()
    if (outcome.ok) job.resolve(outcome.result)
    else job.reject(outcome.error)
  }
  const runOne = async (entry: Entry, job: Job, firstAttempt: number): Promise<CommandOutcome> => {
    const { command } = job
    for (let attempt = firstAttempt; ; attempt++) {
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
        return { ok: true, result: executed.result }
      } catch (error) {
        // A refusal leaves the state as it was; anything else may have left the copy behind the stream.
        if (!isRefusal(error)) entry.loaded = undefined
        if (!(error instanceof ConcurrencyConflictError) || attempt >= maxRetries) return { ok: false, error }
        if (!job.stillOwns()) return { ok: false, error: new NotOwnerError(entry.aggregate.name, entry.id) }
      }
    }
  }
  const runGroup = async (entry: Entry, jobs: readonly Job[]) => {
    let loaded: LoadedAggregate
    try {
      loaded = entry.loaded ?? (await loadAggregate(store, entry.aggregate, entry.id))
    } catch (error) {
      entry.loaded = undefined
      for (const job of jobs) settle(entry, job, { ok: false, error })
      return
    }
    const group = await executeCommandGroup({
      store,
      aggregate: entry.aggregate,
      id: entry.id,
      loaded,
      commands: jobs.map((job) => job.command),
      maxAppendBytes,
    })
    // What did not fit in one append waits at the head of the mailbox for the next group.
    if (group.taken < jobs.length) entry.queue.unshift(...jobs.slice(group.taken))
    if (group.appended) {
      // A command that failed folded nothing into the group's state, so the copy stays exact; the next group
      // may start while this one's answers wait for their positions.
      entry.loaded = group.loaded
      const taken = jobs.slice(0, group.taken)
      void group.outcomes.then(
        (outcomes) => outcomes.forEach((outcome, index) => settle(entry, taken[index]!, outcome)),
        (error: unknown) => taken.forEach((job) => settle(entry, job, { ok: false, error })),
      )
      return
    }
    entry.loaded = undefined
    group.settled.forEach((outcome, index) => settle(entry, jobs[index]!, outcome))
    const unanswered = jobs.slice(group.settled.length, group.taken)
    if (!(group.error instanceof ConcurrencyConflictError) || maxRetries === 0) {
      for (const job of unanswered) settle(entry, job, { ok: false, error: group.error })
      return
    }
    // Someone else wrote to the stream: reload, and run each command again on its own, in order.
    for (const job of unanswered) {
      const outcome = job.stillOwns()
        ? await runOne(entry, job, 1)
        : { ok: false as const, error: new NotOwnerError(entry.aggregate.name, entry.id) }
      settle(entry, job, outcome)
    }
  }
  const runMailbox = async (entry: Entry) => {
    let lastGroup = 0
    for (;;) {
      // After a group, callers answered this turn send their next command at once: wait one turn for them.
      if (entry.queue.length === 0 && lastGroup > 1) await nextTurn()
      if (entry.queue.length === 0) break
      const jobs = entry.queue.splice(0, maxGroup)
      lastGroup = jobs.length
      try {
        if (jobs.length === 1) settle(entry, jobs[0]!, await runOne(entry, jobs[0]!, 0))
        else await runGroup(entry, jobs)
      } catch (error) {
        // Not expected (every outcome is settled above); never leave a caller waiting.
        entry.loaded = undefined
        for (const job of jobs) settle(entry, job, { ok: false, error })
      }
    }
    entry.running = false
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
      return new Promise<CommandResult>((resolve, reject) => {
        entry.queue.push({ command, stillOwns, resolve, reject, answered: false })
        if (entry.running) return
        entry.running = true
        // Started a microtask later, so commands sent in the same turn form one group.
        queueMicrotask(() => void runMailbox(entry))
      })
    },
    hosted: () => entries.size,
    drop(predicate) {
      let dropped = 0
      for (const [key, entry] of entries) {
        if (entry.pending === 0 && predicate(entry.aggregate.name, entry.id)) {
          remove(key, entry)
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
      last = undefined
      drained = []
    },
  }
}

function isRefusal(error: unknown): boolean {
  if (!isAnnalsError(error)) return false
  return !['CONCURRENCY_CONFLICT', 'STORE_UNAVAILABLE', 'INTERNAL', 'MALFORMED_EVENT'].includes(error.code)
}
