import type { EventStore } from '../event-store/event-store.ts'
import type { CommandResult } from './command-bus.ts'
import {
  createMailboxRunner,
  type Mailbox,
  type MailboxJob,
  type Ownership,
  type WriteCounts,
} from './entity-mailbox.ts'
import { MAX_APPEND_BYTES, type CommandOutcome } from './execute-command-group.ts'
import { createHostedMailboxes } from './hosted-mailboxes.ts'
import { createLatencyLimit, type LatencyLimit } from './latency-limit.ts'
import { OverloadedError } from '../errors.ts'
import { NotOwnerError } from './not-owner-error.ts'
import type { ValidCommand } from './validate-command.ts'

export type { Ownership } from './entity-mailbox.ts'

const ALWAYS_OWNS: Ownership = { stillOwns: () => true }
/** Default bound of the commands queued on one host: about a second of work at its measured saturation. */
export const DEFAULT_MAX_QUEUED = 5_000
/** Default bound of the commands queued for one aggregate: eight groups of the default size. */
export const DEFAULT_MAX_QUEUED_PER_AGGREGATE = 1_000
/** What an OVERLOADED refusal tells the caller to wait before retrying. */
const RETRY_AFTER_MS = 1_000

export interface EntityHostOptions {
  readonly store: EventStore
  /**
   * Keep each aggregate in memory between commands (default true). false loads it from the store for every
   * group of commands: see createCommandBus's `stateless`.
   */
  readonly hold?: boolean
  /** At most this many aggregates stay in memory; the least recently used idle ones go first. */
  readonly maxHosted?: number
  /** An aggregate idle this long is passivated (dropped from memory). */
  readonly passivateAfterMs?: number
  /** How often a command is decided again after someone else wrote to its stream. */
  readonly maxConflictRetries?: number
  /** At most this many waiting commands are decided together and written in one append (default 128). */
  readonly maxGroupSize?: number
  /** How many command ids each aggregate remembers for deduplication (default RECENT_COMMANDS_KEPT). */
  readonly recentCommandsKept?: number
  /** A group stops before its events pass this many bytes (default EventStoreDB's 1 MiB append limit). */
  readonly maxAppendBytes?: number
  /** Commands queued or being decided on this host beyond which a new one is refused with OVERLOADED. */
  readonly maxQueued?: number
  /** Commands queued or being decided for one aggregate beyond which a new one to it is refused with OVERLOADED. */
  readonly maxQueuedPerAggregate?: number
  /**
   * The latency this host defends, in milliseconds (default: none). When even the fastest command answered over
   * 100 ms took longer, commands wait in a standing queue: the host then admits only as many in flight as keep
   * the wait near this, and refuses the rest at once with OVERLOADED (createLatencyLimit).
   */
  readonly latencyTargetMs?: number
  /** The clock of passivation, in milliseconds. */
  readonly now?: () => number
  /** The decision time handed to decide; default the system clock. */
  readonly clock?: () => Date
}

export interface EntityHost {
  /**
   * Runs a command in its aggregate's mailbox, after every command before it to the same aggregate.
   * `ownership` is asked after a conflict; when the aggregate moved, the command is handed off to it, or
   * fails with NotOwnerError for the router to re-route (default: this replica always owns it).
   */
  execute(command: ValidCommand, ownership?: Ownership): Promise<CommandResult>
  /** Aggregates held in memory now. */
  hosted(): number
  /**
   * Commands accepted and not yet answered, those refused with OVERLOADED since start, and how many may be in
   * flight now (the latency limit, or maxQueued without one).
   */
  load(): { readonly queued: number; readonly refused: number; readonly limit: number }
  /**
   * Appends written so far, the commands decided in them (their ratio is the mean group size), and the groups
   * decided again because someone else wrote to their stream first.
   */
  written(): Readonly<WriteCounts>
  /** Drops idle copies the predicate picks (e.g. those another replica owns after a ring change). */
  drop(predicate: (aggregate: string, id: string) => boolean): number
  /** Drops copies idle longer than the passivation timeout; a timer calls it, tests may too. */
  passivateIdle(): number
  /** Resolves once every command accepted so far has finished. */
  drain(): Promise<void>
  close(): void
}

/**
 * Creates the entity host: one mailbox per aggregate, so commands to one aggregate run one after another
 * against the state in memory and never read before they write; idle or least recently used aggregates are
 * passivated and reload from their snapshot and events on the next command. Commands that wait in one
 * mailbox together are decided in order and written in one append (executeCommandGroup).
 */
export function createEntityHost(options: EntityHostOptions): EntityHost {
  const now = options.now ?? Date.now
  let inFlight = 0
  const written: WriteCounts = { appends: 0, commands: 0, conflicts: 0 }
  let drained: (() => void)[] = []
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED
  const maxPerAggregate = options.maxQueuedPerAggregate ?? DEFAULT_MAX_QUEUED_PER_AGGREGATE
  let refused = 0
  const latency: LatencyLimit | undefined =
    // NaN, like 0 or none, is no target.
    !(options.latencyTargetMs !== undefined && options.latencyTargetMs > 0)
      ? undefined
      : createLatencyLimit({
          targetMs: options.latencyTargetMs,
          ceiling: maxQueued,
          now: () => performance.now(),
        })
  // Refused before any work, so a flood costs a comparison per command instead of a place in a queue.
  const overloaded = (where: string, bound: number) => {
    refused++
    return Promise.reject(new OverloadedError(where, bound, RETRY_AFTER_MS))
  }

  // Counts and idleness are updated before the caller sees the answer, so they are exact when it resumes.
  const settle = (entry: Mailbox, job: MailboxJob, outcome: CommandOutcome) => {
    if (job.answered) return
    job.answered = true
    entry.pending--
    entry.lastUsed = now()
    inFlight--
    // Only appends measure the queue: a command the domain refused, or one without events, never waited for the store.
    if (latency && outcome.ok && outcome.result.events.length > 0) latency.answered(job.acceptedAt, inFlight)
    mailboxes.evictOverflow()
    if (inFlight === 0) for (const resolve of drained.splice(0)) resolve()
    if (outcome.ok) job.resolve(outcome.result)
    else if (outcome.error instanceof NotOwnerError && job.ownership.handOff) {
      job.resolve(job.ownership.handOff(job.command, outcome.error))
    } else job.reject(outcome.error)
  }
  const runMailbox = createMailboxRunner({
    store: options.store,
    written,
    maxRetries: options.maxConflictRetries ?? 5,
    maxGroup: Math.max(1, options.maxGroupSize ?? 128),
    maxAppendBytes: options.maxAppendBytes ?? MAX_APPEND_BYTES,
    hold: options.hold ?? true,
    loading:
      options.recentCommandsKept === undefined ? {} : { recentCommandsKept: options.recentCommandsKept },
    clock: options.clock ?? (() => new Date()),
    settle,
  })
  const mailboxes = createHostedMailboxes({
    maxHosted: options.maxHosted ?? 10_000,
    passivateAfterMs: options.passivateAfterMs ?? 5 * 60_000,
    now,
    run: runMailbox,
  })

  return {
    execute(command, ownership = ALWAYS_OWNS) {
      if (inFlight >= maxQueued) return overloaded('This replica', maxQueued)
      if (latency && !latency.admits(inFlight)) return overloaded('This replica', latency.limit())
      const entry = mailboxes.mailboxFor(command.aggregate, command.aggregateId)
      if (entry.pending >= maxPerAggregate) {
        return overloaded(`${command.aggregate.name} ${command.aggregateId}`, maxPerAggregate)
      }
      entry.pending++
      inFlight++
      return new Promise<CommandResult>((resolve, reject) => {
        const acceptedAt = latency ? performance.now() : 0
        entry.queue.push({ command, ownership, resolve, reject, acceptedAt, answered: false })
        if (entry.running) return
        entry.running = true
        // Started a microtask later, so commands sent in the same turn form one group.
        queueMicrotask(entry.start)
      })
    },
    hosted: () => mailboxes.size(),
    load: () => ({ queued: inFlight, refused, limit: latency?.limit() ?? maxQueued }),
    written: () => ({ ...written }),
    drop: (predicate) => mailboxes.drop(predicate),
    passivateIdle: () => mailboxes.passivateIdle(),
    drain() {
      if (inFlight === 0) return Promise.resolve()
      return new Promise<void>((resolve) => drained.push(resolve))
    },
    close() {
      mailboxes.close()
      drained = []
    },
  }
}
