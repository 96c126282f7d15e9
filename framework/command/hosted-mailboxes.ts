import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { Mailbox } from './entity-mailbox.ts'

export interface HostedMailboxesOptions {
  /** At most this many mailboxes stay in memory; the least recently used idle ones go first. */
  readonly maxHosted: number
  /** A mailbox idle this long is passivated (dropped from memory). */
  readonly passivateAfterMs: number
  readonly now: () => number
  /** Runs a mailbox's loop: a mailbox's `start` calls it. */
  readonly run: (mailbox: Mailbox) => Promise<void>
}

export interface HostedMailboxes {
  /** The aggregate's mailbox, created if it is not in memory, and now the most recently used. */
  mailboxFor(aggregate: AnyAggregate, id: string): Mailbox
  /** Drops the least recently used idle mailboxes beyond `maxHosted`. */
  evictOverflow(): void
  /** Drops mailboxes idle longer than the passivation timeout; returns how many. */
  passivateIdle(): number
  /** Drops the idle mailboxes the predicate picks; returns how many. */
  drop(predicate: (aggregate: string, id: string) => boolean): number
  size(): number
  close(): void
}

/**
 * Creates the bookkeeping of the mailboxes held in memory: most recently used last, passivated when idle
 * too long (a timer sweeps them) or when there are too many. A mailbox with a command pending is never dropped.
 */
export function createHostedMailboxes(options: HostedMailboxesOptions): HostedMailboxes {
  const { maxHosted, passivateAfterMs, now } = options
  // Insertion order is recency order: every command moves its mailbox to the end.
  const entries = new Map<string, Mailbox>()
  // The mailbox touched last, while hosted: it is already at the end, so a hot aggregate skips the lookup.
  let last: Mailbox | undefined
  const sweep = setInterval(() => passivateIdle(), Math.max(10, Math.floor(passivateAfterMs / 2))).unref()

  const remove = (key: string, entry: Mailbox) => {
    entries.delete(key)
    if (entry === last) last = undefined
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

  return {
    mailboxFor(aggregate, id) {
      if (last !== undefined && last.id === id && last.aggregate === aggregate) return last
      // The stream name is unique per instance: aggregate names cannot hold the '-' it puts before the id.
      const key = aggregate.streamName(id)
      let entry = entries.get(key)
      if (entry) entries.delete(key)
      else entry = createMailbox(aggregate, id, key, now(), options.run)
      entries.set(key, entry)
      last = entry
      return entry
    },
    evictOverflow() {
      if (entries.size <= maxHosted) return
      for (const [key, entry] of entries) {
        if (entries.size <= maxHosted) break
        if (entry.pending === 0) remove(key, entry)
      }
    },
    passivateIdle,
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
    size: () => entries.size,
    close() {
      clearInterval(sweep)
      entries.clear()
      last = undefined
    },
  }
}

function createMailbox(
  aggregate: AnyAggregate,
  id: string,
  streamName: string,
  now: number,
  run: (mailbox: Mailbox) => Promise<void>,
): Mailbox {
  const mailbox: Mailbox = {
    aggregate,
    id,
    streamName,
    loaded: undefined,
    queue: [],
    running: false,
    pending: 0,
    lastUsed: now,
    // One function per mailbox, not one per command: every command that finds it idle schedules it.
    start: () => void run(mailbox),
  }
  return mailbox
}
