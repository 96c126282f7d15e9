/**
 * A catch-up subscription to a stream or to `$all`: confirmation, the events after the start point read
 * from the engine, `caught_up`, then live events as they are committed.
 *
 * It never buffers without bound: live events are written straight to the call, and the first write the
 * call refuses (grpc-js `write` returning false) stops live delivery. The subscription then waits for the
 * client to drain, says `fell_behind`, reads from the engine again after the last event it sent, and says
 * `caught_up` again when it reaches the head: no gap, no duplicate, no reordering.
 */
import { randomUUID } from 'node:crypto'
import { DELETED_REVISION, type Engine, type StoredEvent } from '../engine/engine.ts'
import type { AllFilter } from './all-filter.ts'
import { encodeEvent, type EncodeOptions } from './encode-event.ts'
import { ReadResp } from './protocol.ts'
import type { ReplySink } from './reply-sink.ts'
import { RequestRefused } from './request-refused.ts'
import { engineFailure, streamDeletedError, unavailable } from './status-errors.ts'

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

export class CatchUpSubscription {
  private mode: Mode = 'catching-up'
  /** The revision (stream) or position ($all) of the last event considered; undefined: none yet. */
  private cursor: bigint | undefined
  private considered = 0
  private handoff: (readonly StoredEvent[])[] = []
  private handoffCount = 0
  private overflowed = false
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
        const fellBehind = new ReadResp()
        fellBehind.setFellBehind(new ReadResp.FellBehind())
        this.sink.write(fellBehind)
        this.mode = 'catching-up'
      }
    } catch (error) {
      this.fail(engineFailure(error))
    } finally {
      this.detach()
    }
  }

  /** Ends the subscription from the server side (shutdown or fault injection). */
  drop(): void {
    this.fail(unavailable('Subscription dropped by the server'))
  }

  private get isOpen(): boolean {
    return this.mode !== 'closed' && this.sink.isOpen
  }

  private async goLive(): Promise<void> {
    const queued = this.handoff
    this.resetHandoff()
    let open = true
    if (this.options.filter !== undefined && this.cursor !== undefined)
      open = this.sink.write(checkpoint(this.cursor))
    const caughtUp = new ReadResp()
    caughtUp.setCaughtUp(new ReadResp.CaughtUp())
    open = this.sink.write(caughtUp) && open
    this.mode = open ? 'live' : 'behind'
    for (const events of queued) this.deliverLive(events)
    if (this.mode === 'live') await new Promise<void>((resolve) => (this.wakeBehind = resolve))
    this.detach()
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

  private deliverLive(events: readonly StoredEvent[]): void {
    try {
      for (const event of events) {
        if (this.mode !== 'live') return
        if (!this.isNew(event)) continue
        if (!this.deliver(event)) {
          this.mode = 'behind'
          this.wakeBehind?.()
        }
      }
    } catch (error) {
      this.fail(engineFailure(error))
    }
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
      open = this.sink.write(checkpoint(event.position)) && open
    }
    return open
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
