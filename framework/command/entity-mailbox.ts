import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { CommandResult } from './command-bus.ts'
import {
  executeCommandGroup,
  type CommandOutcome,
  type ExecutedCommandGroup,
} from './execute-command-group.ts'
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
    const arrived = entry.queue.splice(0, maxGroup)
    // The group's awaits are this loop's own (no async function per group): they are on every command's path.
    let jobs: readonly MailboxJob[] = arrived
    try {
      for (let attempt = 0; jobs.length > 0; attempt++) {
        const loaded = entry.loaded ?? (await load(run, entry, jobs))
        if (loaded === undefined) break
        const group = await executeCommandGroup({
          store: run.store,
          aggregate: entry.aggregate,
          id: entry.id,
          streamName: entry.streamName,
          loaded,
          commands: jobs.map((job) => job.command),
          maxAppendBytes: run.maxAppendBytes,
          now: run.clock(),
        })
        jobs = afterGroup(run, entry, jobs, loaded, group, attempt)
      }
    } catch (error) {
      // Not expected (every outcome is settled on the way); never leave a caller waiting.
      entry.loaded = undefined
      for (const job of arrived) settle(entry, job, { ok: false, error })
    }
  }
  entry.running = false
}

/** Loads the mailbox's aggregate; when the store fails, the jobs are answered with its error and it resolves undefined. */
async function load(
  run: MailboxRunnerOptions,
  entry: Mailbox,
  jobs: readonly MailboxJob[],
): Promise<LoadedAggregate | undefined> {
  try {
    return await loadAggregate(run.store, entry.aggregate, entry.id, run.loading)
  } catch (error) {
    entry.loaded = undefined
    for (const job of jobs) run.settle(entry, job, { ok: false, error })
    return undefined
  }
}

/**
 * Settles what a group decided and keeps the mailbox in step; returns the jobs to decide again (after a
 * conflict, those whose aggregate this process still owns), or none.
 */
function afterGroup(
  run: MailboxRunnerOptions,
  entry: Mailbox,
  jobs: readonly MailboxJob[],
  loaded: LoadedAggregate,
  group: ExecutedCommandGroup,
  attempt: number,
): readonly MailboxJob[] {
  const { settle, written } = run
  const conflict =
    !group.appended && group.error instanceof ConcurrencyConflictError && attempt < run.maxRetries
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
      return NONE
    }
    const taken = jobs.slice(0, group.taken)
    void outcomes.then(
      (answers) => answers.forEach((outcome, index) => settle(entry, taken[index]!, outcome)),
      (error: unknown) => taken.forEach((job) => settle(entry, job, { ok: false, error })),
    )
    return NONE
  }
  entry.loaded = undefined
  if (!conflict) {
    // Commands decided before the first that emitted events did not depend on the failed append.
    group.settled.forEach((outcome, index) => settle(entry, jobs[index]!, outcome))
    for (const job of jobs.slice(group.settled.length, group.taken)) {
      settle(entry, job, { ok: false, error: group.error })
    }
    return NONE
  }
  written.conflicts++
  const moved = jobs.filter((job) => !job.ownership.stillOwns(job.command))
  for (const job of moved) {
    settle(entry, job, { ok: false, error: new NotOwnerError(entry.aggregate.name, entry.id) })
  }
  return moved.length === 0 ? jobs : jobs.filter((job) => !moved.includes(job))
}

const NONE: readonly MailboxJob[] = []
