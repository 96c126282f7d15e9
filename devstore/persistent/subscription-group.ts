import type { CheckpointTracker } from './checkpoint-tracker.ts'
import { ConsumerSelector, type ConsumerSlot } from './consumer-strategy.ts'
import type { ConsumerStrategy } from './group-settings.ts'
import { LatencyWindow, RateMeter } from './group-statistics.ts'

/** One message of a group: a source event (with its sequence) or a replayed parked one (without). */
export interface GroupMessage<T> {
  /** The id the consumer acks with: the link's id when a link is delivered, else the event's. */
  readonly id: string
  /** The stream revision or `$all` position the checkpoint counts; absent for replayed parked messages. */
  readonly sequence?: bigint
  /** The source stream name, which Pinned hashes. */
  readonly pinKey: string
  readonly payload: T
}

export type NackAction = 'park' | 'retry' | 'skip' | 'stop'

export type GroupEffect<T> =
  | {
      readonly kind: 'deliver'
      readonly consumerId: string
      readonly message: GroupMessage<T>
      readonly retryCount: number
    }
  | { readonly kind: 'park'; readonly message: GroupMessage<T>; readonly reason: string }
  | { readonly kind: 'drop'; readonly consumerId: string; readonly reason: string }

export interface GroupRules {
  readonly strategy: ConsumerStrategy
  readonly messageTimeoutMs: number
  readonly maxRetryCount: number
  /** 0 means unbounded. */
  readonly maxSubscriberCount: number
  /** Measure each consumer's push-to-ack latency (GetInfo's observed measurements). */
  readonly extraStatistics?: boolean
}

interface Waiting<T> {
  readonly message: GroupMessage<T>
  readonly retryCount: number
}

interface InFlight<T> extends Waiting<T> {
  readonly consumerId: string
  readonly deadline: number
  readonly sentAt: number
}

interface Consumer extends ConsumerSlot {
  readonly delivered: RateMeter
  readonly latencies: LatencyWindow | undefined
}

/** A consumer as GetInfo reports it. */
export interface ConsumerLoad {
  readonly id: string
  readonly capacity: number
  readonly inFlight: number
  readonly delivered: RateMeter
  /** Undefined unless the group measures extra statistics. */
  readonly latencies: LatencyWindow | undefined
}

/**
 * The state of one subscription group, free of I/O and clocks: consumers and their free slots, the
 * retry queue and the read buffer, the messages in flight with their deadlines, and what to do when a
 * message is acked, nacked or times out. Every input returns the effects the runtime must carry out.
 */
export class SubscriptionGroup<T> {
  private readonly consumers: Consumer[] = []
  private retries: Waiting<T>[] = []
  private buffer: Waiting<T>[] = []
  private readonly inFlight = new Map<string, InFlight<T>>()
  private readonly selector: ConsumerSelector
  /** Messages delivered by the group, retries included, for GetInfo's rate and total. */
  readonly delivered: RateMeter

  constructor(
    private readonly rules: GroupRules,
    readonly checkpoints: CheckpointTracker,
    now = Date.now(),
  ) {
    this.selector = new ConsumerSelector(rules.strategy)
    this.delivered = new RateMeter(now)
  }

  get bufferedCount(): number {
    return this.buffer.length
  }

  get retryCount(): number {
    return this.retries.length
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  get totalDelivered(): number {
    return this.delivered.totalItems
  }

  get consumerCount(): number {
    return this.consumers.length
  }

  /** Each consumer with its load and its statistics, in join order. */
  describeConsumers(): ConsumerLoad[] {
    return this.consumers.map(({ id, capacity, inFlight, delivered, latencies }) => ({
      id,
      capacity,
      inFlight,
      delivered,
      latencies,
    }))
  }

  /** Joins a consumer that may hold `capacity` unacked messages; false when the group is full. */
  connect(consumerId: string, capacity: number, now = Date.now()): boolean {
    const limit = this.rules.maxSubscriberCount
    if (limit > 0 && this.consumers.length >= limit) return false
    this.consumers.push({
      id: consumerId,
      capacity: Math.max(1, capacity),
      inFlight: 0,
      delivered: new RateMeter(now),
      latencies: this.rules.extraStatistics === true ? new LatencyWindow() : undefined,
    })
    return true
  }

  /** A consumer left: what it held goes back to be retried (or parked past the retry bound). */
  disconnect(consumerId: string): GroupEffect<T>[] {
    const index = this.consumers.findIndex((consumer) => consumer.id === consumerId)
    if (index < 0) return []
    this.consumers.splice(index, 1)
    const effects: GroupEffect<T>[] = []
    for (const entry of [...this.inFlight.values()]) {
      if (entry.consumerId === consumerId) effects.push(...this.retryOrPark(entry, 'consumer left'))
    }
    return effects
  }

  /** New messages read from the source, in source order. */
  offer(messages: readonly GroupMessage<T>[]): void {
    for (const message of messages) {
      if (message.sequence !== undefined) this.checkpoints.read(message.sequence)
      this.buffer.push({ message, retryCount: 0 })
    }
  }

  /** Parked messages to deliver again, ahead of new ones. */
  replay(messages: readonly GroupMessage<T>[]): void {
    for (const message of messages) this.retries.push({ message, retryCount: 0 })
  }

  /** Messages the consumer has handled; `now` times them from their push, for the latency statistics. */
  ack(ids: readonly string[], now: number): void {
    for (const id of ids) {
      const entry = this.release(id)
      if (entry === undefined) continue
      this.consumers
        .find((consumer) => consumer.id === entry.consumerId)
        ?.latencies?.record(now - entry.sentAt)
      this.finish(entry.message)
    }
  }

  nack(consumerId: string, ids: readonly string[], action: NackAction, reason: string): GroupEffect<T>[] {
    const effects: GroupEffect<T>[] = []
    for (const id of ids) {
      const entry = this.inFlight.get(id)
      if (entry === undefined) continue
      if (action === 'retry') {
        effects.push(...this.retryOrPark(entry, reason))
      } else if (action === 'stop') {
        continue
      } else {
        this.release(id)
        this.finish(entry.message)
        if (action === 'park') effects.push({ kind: 'park', message: entry.message, reason })
      }
    }
    if (action === 'stop') effects.push({ kind: 'drop', consumerId, reason })
    return effects
  }

  /** Messages past their deadline are retried, or parked once they reached `maxRetryCount`. */
  expire(now: number): GroupEffect<T>[] {
    const effects: GroupEffect<T>[] = []
    for (const entry of [...this.inFlight.values()]) {
      if (entry.deadline <= now) effects.push(...this.retryOrPark(entry, 'message timeout'))
    }
    return effects
  }

  /** The earliest deadline in flight, for the runtime's timer. */
  nextDeadline(): number | undefined {
    let earliest: number | undefined
    for (const entry of this.inFlight.values()) {
      if (earliest === undefined || entry.deadline < earliest) earliest = entry.deadline
    }
    return earliest
  }

  /** Hands waiting messages (retries first) to consumers with free slots. */
  dispatch(now: number): GroupEffect<T>[] {
    const effects: GroupEffect<T>[] = []
    this.retries = this.dispatchFrom(this.retries, now, effects)
    this.buffer = this.dispatchFrom(this.buffer, now, effects)
    return effects
  }

  private dispatchFrom(queue: Waiting<T>[], now: number, effects: GroupEffect<T>[]): Waiting<T>[] {
    const kept: Waiting<T>[] = []
    let index = 0
    for (; index < queue.length; index++) {
      if (this.selector.isSaturated(this.consumers)) break
      const waiting = queue[index]
      if (waiting === undefined) continue
      if (this.inFlight.has(waiting.message.id)) {
        kept.push(waiting)
        continue
      }
      const consumer = this.selector.pick(this.consumers, waiting.message.pinKey)
      if (consumer === undefined) {
        kept.push(waiting)
        continue
      }
      consumer.inFlight++
      consumer.delivered.count()
      this.delivered.count()
      this.inFlight.set(waiting.message.id, {
        ...waiting,
        consumerId: consumer.id,
        deadline: this.deadlineFrom(now),
        sentAt: now,
      })
      effects.push({
        kind: 'deliver',
        consumerId: consumer.id,
        message: waiting.message,
        retryCount: waiting.retryCount,
      })
    }
    if (index === queue.length) return kept
    return kept.length === 0 && index === 0 ? queue : kept.concat(queue.slice(index))
  }

  /** A message timeout of 0 means messages never time out. */
  private deadlineFrom(now: number): number {
    return this.rules.messageTimeoutMs > 0 ? now + this.rules.messageTimeoutMs : Number.POSITIVE_INFINITY
  }

  private retryOrPark(entry: InFlight<T>, reason: string): GroupEffect<T>[] {
    this.release(entry.message.id)
    if (entry.retryCount >= this.rules.maxRetryCount) {
      this.finish(entry.message)
      return [{ kind: 'park', message: entry.message, reason }]
    }
    this.retries.push({ message: entry.message, retryCount: entry.retryCount + 1 })
    return []
  }

  private release(id: string): InFlight<T> | undefined {
    const entry = this.inFlight.get(id)
    if (entry === undefined) return undefined
    this.inFlight.delete(id)
    const consumer = this.consumers.find((candidate) => candidate.id === entry.consumerId)
    if (consumer !== undefined) consumer.inFlight--
    return entry
  }

  private finish(message: GroupMessage<T>): void {
    if (message.sequence !== undefined) this.checkpoints.finish(message.sequence)
  }
}
