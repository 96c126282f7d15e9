import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { CommandEnvelope, CommandResult } from '../command/command-bus.ts'
import { executeCommand } from '../command/execute-command.ts'
import { executeCommandGroup, type CommandOutcome } from '../command/execute-command-group.ts'
import { loadAggregate, type LoadedAggregate } from '../command/load-aggregate.ts'
import { ConcurrencyConflictError, isAnnalsError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import { NotOwnerError } from './not-owner-error.ts'

export interface HostedCommand extends CommandEnvelope {
  readonly commandId: string
}

/** What the host asks the router about a command's aggregate once someone else wrote to its stream. */
export interface Ownership {
  /** Whether this replica still owns the command's aggregate. */
  readonly stillOwns: (command: HostedCommand) => boolean
  /** Runs elsewhere a command whose aggregate moved; its answer is the caller's. Absent: NotOwnerError. */
  readonly handOff?: (command: HostedCommand, error: NotOwnerError) => Promise<CommandResult>
}

/** A command waiting in a mailbox, with its caller's answer. */
export interface MailboxJob {
  readonly command: HostedCommand
  readonly ownership: Ownership
  readonly resolve: (result: CommandResult | Promise<CommandResult>) => void
  readonly reject: (error: unknown) => void
  /** Set once the caller is answered, so no path can answer (and count) it twice. */
  answered: boolean
}

/** One hosted aggregate: its copy in memory and the mailbox of commands to it. */
export interface Mailbox {
  readonly aggregate: AnyAggregate
  readonly id: string
  loaded: LoadedAggregate | undefined
  /** Commands accepted and not yet taken by the loop. */
  readonly queue: MailboxJob[]
  /** Whether the mailbox loop runs (at most one per mailbox). */
  running: boolean
  /** Commands accepted and not yet answered (queued or being decided). */
  pending: number
  lastUsed: number
}

/** What the mailboxes wrote: appends, and the commands decided in them (their ratio is the mean group size). */
export interface WriteCounts {
  appends: number
  commands: number
}

export interface MailboxRunnerOptions {
  readonly store: EventStore
  /** Counted as the loop writes. */
  readonly written: WriteCounts
  readonly maxRetries: number
  readonly maxGroup: number
  readonly maxAppendBytes: number
  /** Answers a job once; the host keeps its counts with it. */
  readonly settle: (mailbox: Mailbox, job: MailboxJob, outcome: CommandOutcome) => void
}

/** One pass of the loop over one mailbox, with what its steps need. */
interface MailboxRun extends MailboxRunnerOptions {
  readonly entry: Mailbox
}

/**
 * Creates the loop that empties one mailbox: a lone command runs on its own (retried after a conflict);
 * commands that waited together are decided in order and written in one append (executeCommandGroup).
 */
export function createMailboxRunner(options: MailboxRunnerOptions): (mailbox: Mailbox) => Promise<void> {
  return (entry) => runMailbox({ ...options, entry })
}

async function runMailbox(run: MailboxRun): Promise<void> {
  const { entry, maxGroup, settle } = run
  // No wait for a macrotask when the queue runs dry: callers answered by a group send their next command in
  // microtasks, and the first one starts the loop again a microtask after the others have queued theirs.
  while (entry.queue.length > 0) {
    const jobs = entry.queue.splice(0, maxGroup)
    try {
      if (jobs.length === 1) settle(entry, jobs[0]!, await runOne(run, jobs[0]!, 0))
      else await runGroup(run, jobs)
    } catch (error) {
      // Not expected (every outcome is settled above); never leave a caller waiting.
      entry.loaded = undefined
      for (const job of jobs) settle(entry, job, { ok: false, error })
    }
  }
  entry.running = false
}

async function runOne(run: MailboxRun, job: MailboxJob, firstAttempt: number): Promise<CommandOutcome> {
  const { store, entry, maxRetries, written } = run
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
      if (executed.revision !== loaded.revision) {
        written.appends++
        written.commands++
      }
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
      if (!job.ownership.stillOwns(command))
        return { ok: false, error: new NotOwnerError(entry.aggregate.name, entry.id) }
    }
  }
}

async function runGroup(run: MailboxRun, jobs: readonly MailboxJob[]): Promise<void> {
  const { store, entry, maxAppendBytes, settle, written } = run
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
    if (group.loaded.revision !== loaded.revision) {
      written.appends++
      written.commands += group.taken
    }
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
  await retryAlone(run, group.error, jobs.slice(group.settled.length, group.taken))
}

/**
 * After a failed group append: if someone else wrote to the stream, reload and run each command again on its
 * own, in order; any other error answers them all.
 */
async function retryAlone(run: MailboxRun, error: unknown, unanswered: readonly MailboxJob[]): Promise<void> {
  const { entry, maxRetries, settle } = run
  if (!(error instanceof ConcurrencyConflictError) || maxRetries === 0) {
    for (const job of unanswered) settle(entry, job, { ok: false, error })
    return
  }
  for (const job of unanswered) {
    const outcome = job.ownership.stillOwns(job.command)
      ? await runOne(run, job, 1)
      : { ok: false as const, error: new NotOwnerError(entry.aggregate.name, entry.id) }
    settle(entry, job, outcome)
  }
}

function isRefusal(error: unknown): boolean {
  if (!isAnnalsError(error)) return false
  return !['CONCURRENCY_CONFLICT', 'STORE_UNAVAILABLE', 'INTERNAL', 'MALFORMED_EVENT'].includes(error.code)
}
