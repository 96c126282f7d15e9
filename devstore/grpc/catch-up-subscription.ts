/**
 * A catch-up subscription to a stream or to `$all`: confirmation, the events after the start point read
 * from the engine, `caught_up`, then live events as they are committed.
 *
 * It never buffers without bound: live events go to the call, and while the call's buffer is full (grpc-js
 * `write` returning false) they wait in a live queue of at most LIVE_QUEUE_EVENTS events or LIVE_QUEUE_BYTES
 * bytes, sent as the client drains. Past that bound the subscription has fallen behind, as EventStoreDB's
 * does when its live queue overflows: it drops the queue, waits for the client to drain, reads from the
 * engine again after the last event it sent, and says `caught_up` again when it reaches the head: no gap,
 * no duplicate, no reordering. (EventStoreDB keeps `fell_behind` to itself, and so does the devstore.)
 *
 * A filtered `$all` subscription sends a checkpoint every `checkpointEvery` events considered, and one
 * when it goes live; never one at or before the last it sent.
 */
import { randomUUID } from 'node:crypto'
import { DELETED_REVISION, type Engine, type StoredEvent } from '../engine/engine.ts'
import type { AllFilter } from './all-filter.ts'
import { encodeEvent, type EncodeOptions } from './encode-event.ts'
import { ReadResp } from './protocol.ts'
import type { ReplySink } from './reply-sink.ts'
import { RequestRefused } from './request-refused.ts'
import type { EndReason } from './open-calls.ts'
import { endedByServer, engineFailure, streamDeletedError } from './status-errors.ts'

/** Where it reads from and where it starts: after a revision or position (exclusive), or from the start. */
export type SubscriptionTarget =
  | { readonly kind: 'stream'; readonly stream: string; readonly after: bigint | undefined }
  | { readonly kind: 'all'; readonly after: bigint | undefined }

export interface SubscriptionOptions {
  readonly encoding: EncodeOptions
  readonly filter?: AllFilter
}

type Mode = 'catching-up' | 'handing-off' | 'live' | 'behind' | 'closed'

/** Events committed while switching from the engine to live delivery, beyond which it reads again instead. */
const HANDOFF_LIMIT = 4096
const STREAM_PAGE = 512
/** The live queue's bounds: past either, the subscription has fallen behind and reads from the log again. */
const LIVE_QUEUE_EVENTS = 4096
const LIVE_QUEUE_BYTES = 16 * 1024 * 1024

export class CatchUpSubscription {
  private mode: Mode = 'catching-up'
  /** The revision (stream) or position ($all) of the last event considered; undefined: none yet. */
  private cursor: bigint | undefined
  private considered = 0
  private handoff: (readonly StoredEvent[])[] = []
  private handoffCount = 0
  private overflowed = false
  private liveQueue: StoredEvent[] = []
  private liveQueueHead = 0
  private liveQueueBytes = 0
  private draining = false
  private lastCheckpoint = -1n
  private stopListening: (() => void) | undefined
  private wakeBehind: (() => void) | undefined

  constructor(
    private readonly engine: Engine,
    private readonly sink: ReplySink,
    private readonly target: SubscriptionTarget,
    private readonly options: SubscriptionOptions,
  ) {
    this.cursor = target.after
    sink.call.on('cancelled', () => this.close())
  }

  /** Runs until the client unsubscribes, the server drops it, or it fails. */
  async run(): Promise<void> {
    try {
      const confirmation = new ReadResp.SubscriptionConfirmation()
      confirmation.setSubscriptionId(randomUUID())
      const reply = new ReadResp()
      reply.setConfirmation(confirmation)
      if (this.target.kind === 'all' && this.target.after !== undefined) {
        // readAll rejects a position that is neither an event's nor the end with InvalidPositionError.
        await this.engine.readAll({ direction: 'forwards', from: this.target.after, maxCount: 1 })
      }
      this.sink.write(reply)
      while (this.isOpen) {
        await this.catchUp()
        if (!this.isOpen) return
        this.mode = 'handing-off'
        this.stopListening = this.engine.subscribe(this.onCommit)
        // Events committed before the listener was attached are read here; later ones are in the handoff.
        await this.catchUp()
        if (!this.isOpen) return
        if (this.overflowed) {
          this.detach()
          this.resetHandoff()
          this.mode = 'catching-up'
          continue
        }
        await this.goLive()
        if (!this.isOpen) return
        if (!(await this.sink.drain())) return
        this.mode = 'catching-up'
      }
    } catch (error) {
      this.fail(engineFailure(error))
    } finally {
      this.detach()
    }
  }

  /** Ends the subscription from the server side: CANCELLED on shutdown, UNAVAILABLE when a test drops it. */
  drop(reason: EndReason): void {
    this.fail(endedByServer(reason))
  }

  private get isOpen(): boolean {
    return this.mode !== 'closed' && this.sink.isOpen
  }

  private async goLive(): Promise<void> {
    const queued = this.handoff
    this.resetHandoff()
    if (this.options.filter !== undefined && this.cursor !== undefined) this.sendCheckpoint(this.cursor)
    const caughtUp = new ReadResp()
    caughtUp.setCaughtUp(new ReadResp.CaughtUp())
    this.sink.write(caughtUp)
    this.mode = 'live'
    for (const events of queued) this.deliverLive(events)
    if (this.mode === 'live') await new Promise<void>((resolve) => (this.wakeBehind = resolve))
    this.detach()
    this.clearLiveQueue()
  }

  private readonly onCommit = (events: readonly StoredEvent[]): void => {
    if (this.mode === 'handing-off') {
      this.handoffCount += events.length
      if (this.handoffCount > HANDOFF_LIMIT) this.overflowed = true
      else this.handoff.push(events)
    } else if (this.mode === 'live') {
      this.deliverLive(events)
    }
  }

  /** Queues the new events and sends what the call takes; past the queue's bounds, falls behind. */
  private deliverLive(events: readonly StoredEvent[]): void {
    try {
      for (const event of events) {
        if (this.mode !== 'live') return
        if (!this.isNew(event) || (this.liveQueue.length > 0 && !this.isAfterQueued(event))) continue
        this.liveQueue.push(event)
        this.liveQueueBytes += event.data.length + event.metadata.length
        const queued = this.liveQueue.length - this.liveQueueHead
        if (queued > LIVE_QUEUE_EVENTS || this.liveQueueBytes > LIVE_QUEUE_BYTES) return this.fallBehind()
      }
      this.flushLive()
    } catch (error) {
      this.fail(engineFailure(error))
    }
  }

  /** Sends queued live events until the call's buffer is full, then again once the client drains it. */
  private flushLive(): void {
    if (this.draining) return
    while (this.mode === 'live' && this.liveQueueHead < this.liveQueue.length) {
      const event = this.liveQueue[this.liveQueueHead++]!
      this.liveQueueBytes -= event.data.length + event.metadata.length
      if (!this.deliver(event)) {
        this.draining = true
        void this.sink.drain().then((open) => {
          this.draining = false
          if (open) this.flushLive()
        })
        break
      }
    }
    if (this.liveQueueHead === this.liveQueue.length) this.clearLiveQueue()
  }

  private fallBehind(): void {
    this.mode = 'behind'
    this.clearLiveQueue()
    this.wakeBehind?.()
  }

  private clearLiveQueue(): void {
    this.liveQueue = []
    this.liveQueueHead = 0
    this.liveQueueBytes = 0
  }

  // Commits arrive in order; a queued event is never offered twice, but a stream subscription checks anyway.
  private isAfterQueued(event: StoredEvent): boolean {
    const last = this.liveQueue[this.liveQueue.length - 1]!
    return event.position > last.position
  }

  private async catchUp(): Promise<void> {
    for await (const event of this.read()) {
      if (!this.isOpen) return
      if (!this.isNew(event)) continue
      if (!this.deliver(event) && !(await this.sink.drain())) return
    }
  }

  private read(): AsyncIterable<StoredEvent> {
    if (this.target.kind === 'all') {
      const after = this.cursor
      return this.engine.readAllFrom(after ?? 'start', { exclusive: after !== undefined })
    }
    return this.readStream(this.target.stream)
  }

  private async *readStream(stream: string): AsyncIterable<StoredEvent> {
    for (;;) {
      const fromRevision = this.cursor === undefined ? 0n : this.cursor + 1n
      const result = await this.engine.readStream(stream, {
        direction: 'forwards',
        fromRevision,
        maxCount: STREAM_PAGE,
      })
      if (result.kind === 'deleted') throw new RequestRefused(streamDeletedError(stream))
      if (result.kind === 'not-found') return
      let count = 0
      for (const event of result.events) {
        count++
        yield event
      }
      if (count < STREAM_PAGE || !this.isOpen) return
    }
  }

  private isNew(event: StoredEvent): boolean {
    if (this.target.kind === 'stream') {
      if (event.stream !== this.target.stream) return false
      if (event.revision === DELETED_REVISION) throw new RequestRefused(streamDeletedError(event.stream))
      return this.cursor === undefined || event.revision > this.cursor
    }
    return this.cursor === undefined || event.position > this.cursor
  }

  /** Sends one event (if it passes the filter) and any checkpoint due; false when the call's buffer is full. */
  private deliver(event: StoredEvent): boolean {
    this.cursor = this.target.kind === 'stream' ? event.revision : event.position
    const filter = this.options.filter
    let open = true
    if (filter === undefined || filter.matches(event)) {
      open = this.sink.write(encodeEvent(this.engine, event, this.options.encoding))
    }
    if (filter !== undefined && ++this.considered % filter.checkpointEvery === 0) {
      open = this.sendCheckpoint(event.position) && open
    }
    return open
  }

  /** A checkpoint at `position`, unless one at or after it was sent already. */
  private sendCheckpoint(position: bigint): boolean {
    if (position <= this.lastCheckpoint) return true
    this.lastCheckpoint = position
    return this.sink.write(checkpoint(position))
  }

  private resetHandoff(): void {
    this.handoff = []
    this.handoffCount = 0
    this.overflowed = false
  }

  private detach(): void {
    this.stopListening?.()
    this.stopListening = undefined
    this.wakeBehind?.()
    this.wakeBehind = undefined
  }

  private fail(error: unknown): void {
    if (this.mode === 'closed') return
    this.sink.fail(error)
    this.close()
  }

  private close(): void {
    this.mode = 'closed'
    this.detach()
    this.sink.close()
  }
}

function checkpoint(position: bigint): ReadResp {
  const message = new ReadResp.Checkpoint()
  message.setCommitPosition(position.toString())
  message.setPreparePosition(position.toString())
  const reply = new ReadResp()
  reply.setCheckpoint(message)
  return reply
}
