import type { AllStreamResolvedEvent, AllStreamSubscription } from '@eventstore/db-client'
import { StoreUnavailableError } from '../errors.ts'
import type { SubscriptionMessage } from './event-store.ts'

/** A marker the client reports out of band (an emitted `caughtUp`, a checkpoint callback). */
export type SubscriptionMarker = Exclude<SubscriptionMessage, { kind: 'event' }>

/**
 * The ordered queue between a client subscription (a Node stream that reports `caughtUp` and checkpoints
 * beside its data) and an async iterator. A marker is reported while earlier events may still sit in the
 * stream's buffer, so it is placed after `delivered + readableLength` events: exactly where the server sent it.
 */
export class EsdbSubscriptionQueue {
  #subscription: AllStreamSubscription | undefined
  #delivered = 0
  readonly #pending: { at: number; marker: SubscriptionMarker }[] = []
  readonly #items: SubscriptionMessage[] = []
  #failure: unknown
  #ended = false
  #wake: (() => void) | undefined
  readonly #highWater: number
  readonly #toMessage: (event: AllStreamResolvedEvent) => SubscriptionMessage | undefined

  /** `toMessage` converts a client event, or returns undefined to leave it out (it still counts as delivered). */
  constructor(
    toMessage: (event: AllStreamResolvedEvent) => SubscriptionMessage | undefined,
    options: { readonly highWater?: number } = {},
  ) {
    this.#toMessage = toMessage
    this.#highWater = options.highWater ?? 1024
  }

  /** Called by the client (inside its transform) with a marker; `subscription` is the client stream. */
  mark(subscription: AllStreamSubscription, marker: SubscriptionMarker): void {
    const at = this.#delivered + subscription.readableLength
    if (at <= this.#delivered) this.#push(marker)
    else this.#pending.push({ at, marker })
  }

  /** Reads the client stream into this queue, pausing it when the consumer falls behind. */
  attach(subscription: AllStreamSubscription): void {
    this.#subscription = subscription
    subscription.on('caughtUp', () => this.mark(subscription, { kind: 'caughtUp' }))
    subscription.on('data', (event: AllStreamResolvedEvent) => {
      this.#delivered += 1
      try {
        const message = this.#toMessage(event)
        if (message) this.#push(message)
      } catch (error) {
        this.#finish(error)
      }
      while (this.#pending[0] && this.#pending[0].at <= this.#delivered) {
        this.#push(this.#pending.shift()!.marker)
      }
      if (this.#items.length >= this.#highWater) subscription.pause()
    })
    subscription.on('error', (error: unknown) => this.#finish(error))
    subscription.on('end', () =>
      this.#finish(new StoreUnavailableError('The event store ended the subscription')),
    )
  }

  /** Ends iteration cleanly (no error), dropping what has not been taken yet. */
  stop(): void {
    this.#items.length = 0
    this.#ended = true
    // A paused stream would never see the end of its cancelled call, and the client would wait for it on dispose.
    this.#subscription?.resume()
    this.#wakeUp()
  }

  /** The next item, or undefined once stopped; throws the failure after the buffered items are taken. */
  async take(): Promise<SubscriptionMessage | undefined> {
    for (;;) {
      const item = this.#items.shift()
      if (item !== undefined) {
        if (this.#items.length < this.#highWater / 4 && this.#subscription?.isPaused()) {
          this.#subscription.resume()
        }
        return item
      }
      if (this.#failure !== undefined) throw this.#failure
      if (this.#ended) return undefined
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  #push(item: SubscriptionMessage): void {
    if (this.#ended) return
    this.#items.push(item)
    this.#wakeUp()
  }

  #finish(failure: unknown): void {
    if (this.#ended || this.#failure !== undefined) return
    this.#failure = failure
    this.#wakeUp()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
