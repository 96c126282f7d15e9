import type { ReadResp } from '@eventstore/db-client/generated/persistent_pb.js'
import type { Engine, StoredEvent } from '../engine/engine.ts'
import { CheckpointTracker } from './checkpoint-tracker.ts'
import { createGroupSource, type GroupSource } from './group-source.ts'
import type { GroupDefinition } from './group-settings.ts'
import { groupDamaged, subscriptionDropped, type PersistentError } from './persistent-errors.ts'
import { toReadResponse, type Delivery } from './read-event.ts'
import { SubscriptionGroup, type GroupEffect, type NackAction } from './subscription-group.ts'
import { GroupStreams } from './group-streams.ts'

/** One consumer's Read call as the runtime drives it. */
export interface ConsumerConnection {
  readonly id: string
  readonly from: string
  /** The user the consumer authenticated as. */
  readonly username: string
  readonly name: string
  /** The group took the consumer: confirm it, before any message is sent. */
  joined(): void
  send(response: ReadResp): void
  /** Ends the call: with an error, or cleanly when undefined. */
  end(error: PersistentError | undefined): void
}

/**
 * A running subscription group: it reads its source into the group's buffer, hands messages to the
 * connected consumers, expires and retries them on a ticker, and writes parked messages and
 * checkpoints to the event log in order (a checkpoint never lands before the parks it covers).
 *
 * When its reader reaches a damaged record (DATA_CORRUPT) the group stops reading: it still delivers the
 * messages before it until each is acked or parked (and checkpoints them), then ends its consumers' calls
 * with the damage (INTERNAL, "DATA_CORRUPT: ..."). It does not read again until a consumer joins; that
 * consumer's join reads the record again, so it gets the same error unless the log was repaired.
 */
export class GroupRuntime {
  private readonly connections = new Map<string, ConsumerConnection>()
  private readonly ticker: NodeJS.Timeout
  private writes: Promise<void> = Promise.resolve()
  private pumping = false
  private pumpAgain = false
  private atHead = false
  private stopped = false
  /** The damage the reader stopped at, until a consumer joins and the group reads it again. */
  private damage: PersistentError | undefined

  private constructor(
    readonly definition: GroupDefinition,
    private readonly streams: GroupStreams,
    private readonly group: SubscriptionGroup<Delivery>,
    private readonly source: GroupSource,
  ) {
    const { messageTimeoutMs, checkpointAfterMs } = definition.settings
    const shortest = Math.min(messageTimeoutMs || 2_500, checkpointAfterMs || 2_500)
    const interval = Math.min(500, Math.max(10, Math.floor(shortest / 5)))
    this.ticker = setInterval(() => this.tick(), interval)
    this.ticker.unref()
  }

  /** Starts a group from its checkpoint (or its start point) as found in the log. */
  static async start(engine: Engine, definition: GroupDefinition): Promise<GroupRuntime> {
    const streams = new GroupStreams(engine, definition)
    const checkpoint = await streams.readCheckpoint()
    const { settings } = definition
    const tracker = new CheckpointTracker(settings, checkpoint, Date.now())
    const group = new SubscriptionGroup<Delivery>(settings, tracker)
    const runtime = new GroupRuntime(
      definition,
      streams,
      group,
      createGroupSource(engine, definition, checkpoint),
    )
    runtime.wake()
    return runtime
  }

  get state(): SubscriptionGroup<Delivery> {
    return this.group
  }

  /** Whether the reader has reached the head of its source (GetInfo's status Live; else Behind). */
  get isLive(): boolean {
    return this.atHead
  }

  get consumers(): readonly ConsumerConnection[] {
    return [...this.connections.values()]
  }

  /** Whether freshly committed events concern this group's source. */
  concerns(events: readonly StoredEvent[]): boolean {
    return this.source.concerns(events)
  }

  lastKnown(): bigint | undefined {
    return this.source.lastKnown()
  }

  parkedCount(): Promise<number> {
    return this.streams.countParked()
  }

  /** Joins a consumer that may hold `capacity` unacked messages, unless the group is full or stopped. */
  connect(connection: ConsumerConnection, capacity: number): 'joined' | 'full' | 'stopped' {
    if (this.stopped) return 'stopped'
    if (!this.group.connect(connection.id, capacity)) return 'full'
    const readAgain = this.damage !== undefined
    this.damage = undefined
    this.connections.set(connection.id, connection)
    connection.joined()
    this.settle(this.group.dispatch(Date.now()))
    if (readAgain) this.wake()
    return 'joined'
  }

  disconnect(consumerId: string): void {
    if (!this.connections.delete(consumerId)) return
    this.settle(this.group.disconnect(consumerId))
  }

  ack(ids: readonly string[]): void {
    this.group.ack(ids, Date.now())
    this.settle([])
  }

  nack(consumerId: string, ids: readonly string[], action: NackAction, reason: string): void {
    this.settle(this.group.nack(consumerId, ids, action, reason))
  }

  /** New events may have reached the source (a group stopped at damage waits for a consumer instead). */
  wake(): void {
    if (this.damage !== undefined) return
    this.atHead = false
    this.pumpAgain = true
    void this.pump()
  }

  /** Delivers the parked messages again (at most `stopAt` of them) and truncates them from the parked stream. */
  replayParked(stopAt: bigint | undefined): Promise<void> {
    // Queued behind the parks before it, and before other replays, so no message is taken twice.
    const replay = this.writes.then(async () => {
      const messages = await this.streams.takeParked(stopAt)
      if (this.stopped) return
      this.group.replay(messages)
      this.settle([])
    })
    this.writes = replay.catch(() => undefined)
    return replay
  }

  /** Ends every consumer's call with `error`, stops the ticker and writes a last checkpoint. */
  async stop(error: PersistentError | undefined): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.ticker)
    for (const connection of this.connections.values()) connection.end(error)
    this.connections.clear()
    this.checkpoint(true)
    await this.writes
  }

  private tick(): void {
    if (this.stopped) return
    this.settle(this.group.expire(Date.now()))
  }

  /** Reads the source into the buffer until the buffer is full or the source is at its head. */
  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    const { readBatchSize, historyBufferSize } = this.definition.settings
    const limit = Math.max(1, readBatchSize, historyBufferSize)
    try {
      while (!this.stopped && (this.pumpAgain || !this.atHead)) {
        this.pumpAgain = false
        this.atHead = false
        while (!this.stopped && this.group.bufferedCount < limit) {
          const room = Math.min(Math.max(1, readBatchSize), limit - this.group.bufferedCount)
          const page = await this.source.read(room)
          if (this.stopped) return
          this.group.offer(page.messages)
          if (page.damage !== undefined) {
            this.damage = groupDamaged(page.damage)
            this.atHead = true
            this.settle(this.group.dispatch(Date.now()))
            return
          }
          this.settle(this.group.dispatch(Date.now()))
          if (page.atHead) {
            this.atHead = true
            break
          }
        }
        if (this.group.bufferedCount >= limit) break
      }
    } catch {
      // The engine closed under the reader: the subsystem is stopping, and the next start resumes.
    } finally {
      this.pumping = false
    }
  }

  /** Carries out effects, dispatches what can go, refills the buffer and checkpoints when due. */
  private settle(effects: GroupEffect<Delivery>[]): void {
    const now = Date.now()
    const pending = [...effects, ...this.group.dispatch(now)]
    for (const effect of pending) {
      if (effect.kind === 'deliver') {
        this.connections
          .get(effect.consumerId)
          ?.send(toReadResponse(effect.message.payload, effect.retryCount))
      } else if (effect.kind === 'park') {
        const { event } = effect.message.payload
        this.enqueue(() => this.streams.park(event, effect.reason))
      } else {
        // Ended with an error, not cleanly: the client's dispose() waits forever on a cleanly ended Read call.
        const { stream, group } = this.definition
        this.connections.get(effect.consumerId)?.end(subscriptionDropped(stream, group, effect.reason))
        this.disconnect(effect.consumerId)
      }
    }
    this.checkpoint(false)
    if (this.damage !== undefined) {
      this.failWhenDrained(this.damage)
      return
    }
    const refill = this.group.bufferedCount < Math.max(1, this.definition.settings.readBatchSize)
    if (!this.stopped && !this.atHead && refill) void this.pump()
  }

  /** Once every message before the damage is acked or parked, ends the consumers' calls with it. */
  private failWhenDrained(damage: PersistentError): void {
    const { bufferedCount, retryCount, inFlightCount } = this.group
    if (this.stopped || bufferedCount + retryCount + inFlightCount > 0 || this.connections.size === 0) return
    this.checkpoint(true)
    const failing = [...this.connections.values()]
    this.connections.clear()
    for (const connection of failing) this.group.disconnect(connection.id)
    for (const connection of failing) connection.end(damage)
  }

  private checkpoint(force: boolean): void {
    const due = this.group.checkpoints.due(Date.now(), force)
    if (due === undefined) return
    this.group.checkpoints.written(due, Date.now())
    this.enqueue(async () => {
      await this.streams.writeCheckpoint(due)
      this.group.checkpoints.stored(due)
    })
  }

  private enqueue(write: () => Promise<void>): void {
    this.writes = this.writes.then(write).catch(() => {
      // A write that fails (the engine is closing) is redone after restart from the last checkpoint.
    })
  }
}
