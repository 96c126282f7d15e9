import type { ChangesOptions, RowChange } from '../framework/index.ts'
import { ChangesExpiredError, matchesChange, type ChangeFeed } from './change-feed.ts'
import type { SharedCheckpoint, SharedReadModels, StoredChange } from './read-models/read-model-database.ts'

/** How many changes one read of the feed's table takes. */
const PAGE = 1_000

export interface DurableChangeFeed<TRow> extends ChangeFeed<TRow> {
  /** A commit of the model, on any replica: readers here get its changes (one read shared by all of them). */
  committed(checkpoint: SharedCheckpoint): void
}

interface Reader<TRow> {
  readonly queue: StoredChange<TRow>[]
  wake: (() => void) | undefined
  failure: Error | undefined
  /** The position of the last change handed over (or resumed after). */
  last: bigint
  /** Changes up to this order were handed over already (by the backfill). */
  seenSeq: bigint
}

/**
 * Creates the change feed of a model that lives in a shared database: changes are written by the replica
 * that runs the projection, in the commit that makes them, and read by every replica that has readers —
 * once per commit notification for all its readers, never per reader. A reader resuming after a position
 * reads the changes since from the table, for as long as the feed keeps them (`changeRetention`); before
 * that it gets CHANGES_EXPIRED, on any replica and after any restart.
 */
export function createDurableChangeFeed<TRow>(options: {
  readonly model: string
  readonly shared: SharedReadModels
}): DurableChangeFeed<TRow> {
  const { model, shared } = options
  const readers = new Set<Reader<TRow>>()
  /** The newest change handed to the readers here; undefined until a reader needs it. */
  let lastSeq: bigint | undefined
  let pulling: Promise<void> | undefined
  let again = false
  /** No change at or before it is kept: readers behind it expire. */
  let changesFrom = 0n

  function pull(): Promise<void> {
    if (pulling) {
      again = true
      return pulling
    }
    pulling = (async () => {
      do {
        again = false
        await pullOnce()
      } while (again)
    })().finally(() => (pulling = undefined))
    return pulling
  }

  async function pullOnce() {
    if (readers.size === 0) {
      lastSeq = undefined
      return
    }
    for (;;) {
      // No reader has read its backfill yet: the first one that does sets where the live reads start.
      if (lastSeq === undefined) return
      const page = await shared.changes(model, { seq: lastSeq }, PAGE)
      expireBehind(page.changesFrom)
      for (const stored of page.changes as StoredChange<TRow>[]) {
        lastSeq = stored.seq
        for (const reader of readers) {
          if (stored.seq <= reader.seenSeq || reader.failure) continue
          reader.queue.push(stored)
          reader.wake?.()
        }
      }
      if (page.changes.length < PAGE) return
    }
  }

  function expireBehind(from: bigint) {
    if (from > changesFrom) changesFrom = from
    for (const reader of readers) {
      if (reader.last < changesFrom && !reader.failure) {
        reader.failure = new ChangesExpiredError(model, reader.last, changesFrom)
        reader.wake?.()
      }
    }
  }

  return {
    get reading() {
      return readers.size > 0
    },
    publish() {},
    skip() {},
    truncate() {},
    restart() {},
    committed(checkpoint) {
      if (checkpoint.changesFrom !== undefined) expireBehind(checkpoint.changesFrom)
      if (readers.size > 0 && checkpoint.changes > 0) {
        pull().catch(() => {
          // The database is unreachable: the next commit's notification (after it returns) pulls again.
        })
      }
    },
    async *changes(changesOptions: ChangesOptions, position: () => bigint) {
      const { signal } = changesOptions
      const after = changesOptions.after ?? position()
      const reader: Reader<TRow> = {
        queue: [],
        wake: undefined,
        failure: undefined,
        last: after,
        seenSeq: -1n,
      }
      // Registered before the backfill is read: a change committed meanwhile comes through the queue.
      readers.add(reader)
      const onAbort = () => reader.wake?.()
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        const backfill = await shared.changes(model, { position: after }, PAGE * 100)
        if (after < backfill.changesFrom) throw new ChangesExpiredError(model, after, backfill.changesFrom)
        const replay = backfill.changes as StoredChange<TRow>[]
        for (const stored of replay) if (stored.seq > reader.seenSeq) reader.seenSeq = stored.seq
        // The backfill read everything up to headSeq: live reads go on from there.
        if (lastSeq === undefined || lastSeq < backfill.headSeq) lastSeq = backfill.headSeq
        await pull()
        reader.queue.unshift(
          ...replay.filter((stored) => !reader.queue.some((queued) => queued.seq === stored.seq)),
        )
        reader.queue.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0))
        while (!signal?.aborted) {
          const next = reader.queue.shift()
          if (next === undefined) {
            if (reader.failure) throw reader.failure
            await new Promise<void>((resolve) => (reader.wake = resolve))
            reader.wake = undefined
            continue
          }
          if (next.seq > reader.seenSeq) reader.seenSeq = next.seq
          const change: RowChange<TRow> = next.change
          if (change.position > reader.last) reader.last = change.position
          if (!matchesChange(change, changesOptions)) continue
          yield change
        }
      } finally {
        readers.delete(reader)
        signal?.removeEventListener('abort', onAbort)
      }
    },
  }
}
