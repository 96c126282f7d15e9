import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { CommandResult } from './command-bus.ts'
import { executeCommandGroup, type CommandOutcome } from './execute-command-group.ts'
import { loadAggregate, type LoadedAggregate, type LoadOptions } from './load-aggregate.ts'
import { ConcurrencyConflictError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import { NotOwnerError } from './not-owner-error.ts'
import type { ValidCommand } from './validate-command.ts'

/** What the host asks its caller about a command's aggregate once someone else wrote to its stream. */
export interface Ownership {
  /** Whether this process still owns the command's aggregate. */
  readonly stillOwns: (command: ValidCommand) => boolean
  /** Runs elsewhere a command whose aggregate moved; its answer is the caller's. Absent: NotOwnerError. */
  readonly handOff?: (command: ValidCommand, error: NotOwnerError) => Promise<CommandResult>
}

/** A command waiting in a mailbox, with its caller's answer. */
export interface MailboxJob {
  readonly command: ValidCommand
  readonly ownership: Ownership
  readonly resolve: (result: CommandResult | Promise<CommandResult>) => void
  readonly reject: (error: unknown) => void
  /** When the host accepted it (performance.now(), 0 when the host measures no latency). */
  readonly acceptedAt: number
  /** Set once the caller is answered, so no path can answer (and count) it twice. */
  answered: boolean
}

/** One hosted aggregate: its copy in memory and the mailbox of commands to it. */
export interface Mailbox {
  readonly aggregate: AnyAggregate
  readonly id: string
  /** The aggregate's stream, named once for the mailbox's life rather than at every command. */
  readonly streamName: string
  loaded: LoadedAggregate | undefined
  /** Commands accepted and not yet taken by the loop. */
  readonly queue: MailboxJob[]
  /** Whether the mailbox loop runs (at most one per mailbox). */
  running: boolean
  /** Commands accepted and not yet answered (queued or being decided). */
  pending: number
  lastUsed: number
  /** Starts the mailbox loop (scheduled as a microtask when a command finds the mailbox idle). */
  readonly start: () => void
}

/** What the mailboxes wrote: appends, and the commands decided in them (their ratio is the mean group size). */
export interface WriteCounts {
  appends: number
  commands: number
  /** Groups decided again after someone else wrote to their stream first. */
  conflicts: number
}

export interface MailboxRunnerOptions {
  readonly store: EventStore
  /** Counted as the loop writes. */
  readonly written: WriteCounts
  readonly maxRetries: number
  readonly maxGroup: number
  readonly maxAppendBytes: number
  /** How an aggregate is loaded (how many command ids it remembers). */
  readonly loading: LoadOptions
  /** Keep the aggregate in memory after a group (false: load it again for the next one). */
  readonly hold: boolean
  /** The decision time handed to decide. */
  readonly clock: () => Date
  /** Answers a job once; the host keeps its counts with it. */
  readonly settle: (mailbox: Mailbox, job: MailboxJob, outcome: CommandOutcome) => void
}

/**
 * Creates the loop that empties one mailbox: the commands waiting in it are decided in order and written in
 * one append (executeCommandGroup; a lone command is a group of one). After a conflict the group is decided
 * again on the stream as it is now, a bounded number of times.
 */
export function createMailboxRunner(options: MailboxRunnerOptions): (mailbox: Mailbox) => Promise<void> {
  return (entry) => runMailbox(options, entry)
}

async function runMailbox(run: MailboxRunnerOptions, entry: Mailbox): Promise<void> {
  const { maxGroup, settle } = run
  // No wait for a macrotask when the queue runs dry: callers answered by a group send their next command in
  // microtasks, and the first one starts the loop again a microtask after the others have queued theirs.
  while (entry.queue.length > 0) {
    const jobs = entry.queue.splice(0, maxGroup)
    try {
      await runGroup(run, entry, jobs)
    } catch (error) {
      // Not expected (every outcome is settled in runGroup); never leave a caller waiting.
      entry.loaded = undefined
      for (const job of jobs) settle(entry, job, { ok: false, error })
    }
  }
  entry.running = false
}

async function runGroup(
  run: MailboxRunnerOptions,
  entry: Mailbox,
  arrived: readonly MailboxJob[],
): Promise<void> {
  const { store, maxAppendBytes, maxRetries, settle, written } = run
  let jobs = arrived
  for (let attempt = 0; ; attempt++) {
    let loaded: LoadedAggregate
    try {
      loaded = entry.loaded ?? (await loadAggregate(store, entry.aggregate, entry.id, run.loading))
    } catch (error) {
      entry.loaded = undefined
      for (const job of jobs) settle(entry, job, { ok: false, error })
      return
    }
    const group = await executeCommandGroup({
      store,
      aggregate: entry.aggregate,
      id: entry.id,
      streamName: entry.streamName,
      loaded,
      commands: jobs.map((job) => job.command),
      maxAppendBytes,
      now: run.clock(),
    })
    const conflict =
      !group.appended && group.error instanceof ConcurrencyConflictError && attempt < maxRetries
    // What did not fit in one append waits at the head of the mailbox for the next group.
    if (!conflict && group.taken < jobs.length) entry.queue.unshift(...jobs.slice(group.taken))
    if (group.appended) {
      if (group.loaded.revision !== loaded.revision) {
        written.appends++
        written.commands += group.taken
      }
      // A refused command folded nothing into the group's state, so the copy stays exact; the next group
      // may start while this one's answers wait for their positions.
      entry.loaded = run.hold ? group.loaded : undefined
      const { outcomes } = group
      if (!(outcomes instanceof Promise)) {
        for (let index = 0; index < outcomes.length; index++) settle(entry, jobs[index]!, outcomes[index]!)
        return
      }
      const taken = jobs.slice(0, group.taken)
      void outcomes.then(
        (answers) => answers.forEach((outcome, index) => settle(entry, taken[index]!, outcome)),
        (error: unknown) => taken.forEach((job) => settle(entry, job, { ok: false, error })),
      )
      return
    }
    entry.loaded = undefined
    if (!conflict) {
      // Commands decided before the first that emitted events did not depend on the failed append.
      group.settled.forEach((outcome, index) => settle(entry, jobs[index]!, outcome))
      for (const job of jobs.slice(group.settled.length, group.taken)) {
        settle(entry, job, { ok: false, error: group.error })
      }
      return
    }
    written.conflicts++
    const moved = jobs.filter((job) => !job.ownership.stillOwns(job.command))
    for (const job of moved) {
      settle(entry, job, { ok: false, error: new NotOwnerError(entry.aggregate.name, entry.id) })
    }
    if (moved.length > 0) {
      jobs = jobs.filter((job) => !moved.includes(job))
      if (jobs.length === 0) return
    }
  }
}
