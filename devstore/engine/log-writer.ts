/**
 * Group commit. A commit's records are queued on the device and indexed at once (so the next append is
 * decided against them), but readers and subscribers see them only once they are durable. One sync is in
 * flight at a time; every commit queued meanwhile shares the next one. A failed write or sync fails the
 * writer for good: what reached the disk is then unknown, and reopening recovers from the log.
 */
import type { StoredEvent } from './engine.ts'
import { EngineFailedError } from './engine-errors.ts'
import type { LogIndex } from './log-index.ts'
import type { LogDevice } from './log-device.ts'
import { DELETED_REVISION } from './engine-constants.ts'
import { encodeRecord, hashId, type EventToEncode } from './record-codec.ts'

interface Waiter {
  readonly end: number
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

export class LogWriter {
  /** Readers see records that start below this offset. */
  durableEnd: number
  commits = 0
  failure: EngineFailedError | undefined
  private readonly unflushed = new Map<number, StoredEvent>()
  private pending: StoredEvent[] = []
  private waiters: Waiter[] = []
  private syncing: Promise<void> | undefined

  constructor(
    private readonly device: LogDevice,
    private readonly index: LogIndex,
    private readonly onDurable: (events: readonly StoredEvent[]) => void,
  ) {
    this.durableEnd = device.end
  }

  /** Queues one commit's events (atomic: the last record carries END_OF_COMMIT) and indexes them. */
  write(events: readonly EventToEncode[]): StoredEvent[] {
    if (this.failure) throw this.failure
    const records = events.map((event, i) => encodeRecord(event, i === events.length - 1))
    const stored: StoredEvent[] = []
    for (const [i, event] of events.entries()) {
      const position = this.device.end
      this.device.write(records[i] as Buffer)
      this.index.add(event.stream, position, hashId(event.id), event.revision === DELETED_REVISION)
      const storedEvent: StoredEvent = {
        stream: event.stream,
        revision: event.revision,
        position: BigInt(position),
        id: event.id,
        type: event.type,
        data: event.data,
        metadata: event.metadata,
        contentType: event.contentType,
        created: event.created,
      }
      this.unflushed.set(position, storedEvent)
      this.pending.push(storedEvent)
      stored.push(storedEvent)
    }
    this.commits++
    return stored
  }

  /** An event written but not yet durable (decisions may need to read it). */
  unflushedEvent(position: number): StoredEvent | undefined {
    return this.unflushed.get(position)
  }

  /** Resolves once every record starting below `end` is durable. */
  waitDurable(end: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    if (end <= this.durableEnd) return Promise.resolve()
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ end, resolve, reject }))
    this.syncing ??= this.syncLoop()
    return done
  }

  /** Waits until nothing is left to sync. */
  async drain(): Promise<void> {
    while (this.syncing) await this.syncing
  }

  private async syncLoop(): Promise<void> {
    try {
      // Let the appends of the current tick join the first sync.
      await Promise.resolve()
      while (this.durableEnd < this.device.end) {
        const target = this.device.end
        const events = this.pending
        this.pending = []
        await this.device.sync()
        this.durableEnd = target
        for (const event of events) this.unflushed.delete(Number(event.position))
        this.onDurable(events)
        this.waiters = this.waiters.filter((waiter) => (waiter.end <= target ? void waiter.resolve() : true))
      }
    } catch (error) {
      this.failure = new EngineFailedError(error)
      for (const waiter of this.waiters) waiter.reject(this.failure)
      this.waiters = []
    } finally {
      this.syncing = undefined
    }
  }
}
