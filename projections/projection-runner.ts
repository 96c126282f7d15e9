import type { EventStore, ReadSideLogger, RecordedEvent, SubscriptionMessage } from '../framework/index.ts'
import type { EventBatch, ProjectionEngine } from './projection-engine.ts'
import type { RetryPolicy } from '../framework/internal.ts'
import { followWithResubscribe } from './resubscribe.ts'
import { defaultResubscribeRetry } from './retry-policy.ts'

/** A projection engine as a runner drives it, whatever its row type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEngine = ProjectionEngine<any>

export interface ProjectionRunnerOptions {
  readonly store: EventStore
  readonly name: string
  readonly engines: readonly AnyEngine[]
  readonly retry?: Partial<RetryPolicy>
  readonly log?: ReadSideLogger
  /** Called after each batch is dispatched: where a joining engine is handed over. */
  readonly afterDispatch?: () => void
  /** The most events one batch holds. Default 1,000. */
  readonly maxBatch?: number
}

export interface ProjectionRunner {
  /** The last position dispatched to the engines (0n before any). */
  readonly position: bigint
  /** The last position of an event of one of these types that was dispatched (0n before any). */
  lastEventOf(types: readonly string[]): bigint
  readonly engines: readonly AnyEngine[]
  /** The event types the subscription is filtered to. */
  readonly eventTypes: readonly string[]
  readonly resubscriptions: number
  /** The mean distance between dispatched events in bytes of `$all`, to turn a byte lag into events. */
  averageEventBytes(): number
  add(engine: AnyEngine): void
  remove(engine: AnyEngine): void
  start(): void
  stop(): Promise<void>
}

/**
 * Creates the loop that feeds projection engines from one catch-up subscription to `$all`, filtered to the
 * event types they handle, from their lowest position. Events pile up while the engines commit a batch, and
 * the next batch takes all of them (up to `maxBatch`): one event at a time when the log is quiet, large
 * batches while catching up. When the store drops the subscription, or an engine cannot commit, it opens
 * the engines again from their committed checkpoints and resubscribes after a back-off: each engine skips
 * what it already has, so nothing is missed and nothing is folded twice.
 */
export function createProjectionRunner(options: ProjectionRunnerOptions): ProjectionRunner {
  const { store, log } = options
  const policy = { ...defaultResubscribeRetry, ...options.retry }
  const maxBatch = options.maxBatch ?? 5_000
  let engines: readonly AnyEngine[] = options.engines
  const eventTypes = [...new Set(engines.flatMap((engine) => engine.definition.eventTypes))]
  const lastByType = new Map<string, bigint>()
  let position = 0n
  let resubscriptions = 0
  let firstEventAt: bigint | undefined
  let eventsDispatched = 0
  const abort = new AbortController()
  let running: Promise<void> | undefined

  function run() {
    return followWithResubscribe(
      {
        signal: abort.signal,
        policy,
        onFailure: (error, retryInMs) => {
          resubscriptions++
          log?.warn({ runner: options.name, err: error, retryInMs }, 'projection runner paused; resuming')
        },
      },
      async (delivered) => {
        const attempt = new AbortController()
        const stopAttempt = () => attempt.abort()
        abort.signal.addEventListener('abort', stopAttempt, { once: true })
        try {
          for (const engine of engines) if (!engine.opened) await engine.open()
          // An engine reading held events again after a restart resumes before its checkpoint.
          const from = engines.reduce(
            (low, engine) => (engine.resumeFrom < low ? engine.resumeFrom : low),
            engines[0]?.resumeFrom ?? position,
          )
          const subscription = store.subscribeToAll({
            fromPosition: from === 0n ? 'start' : from,
            eventTypes,
            signal: attempt.signal,
          })
          await follow(subscription, attempt, delivered)
        } finally {
          // Whatever ended this subscription, its reader stops before the next one starts.
          attempt.abort()
          abort.signal.removeEventListener('abort', stopAttempt)
        }
      },
    )
  }

  /** Reads the subscription ahead while the engines commit, and hands them what piled up, a batch at a time. */
  async function follow(
    subscription: AsyncIterable<SubscriptionMessage>,
    attempt: AbortController,
    progressed: () => void,
  ) {
    const queue: SubscriptionMessage[] = []
    let wake: (() => void) | undefined
    let resume: (() => void) | undefined
    let ended = false
    let failure: unknown
    const reading = (async () => {
      try {
        for await (const message of subscription) {
          queue.push(message)
          wake?.()
          // Back-pressure: the subscription waits while two batches are queued.
          if (queue.length >= maxBatch * 2) await new Promise<void>((resolve) => (resume = resolve))
        }
      } catch (error) {
        failure = error
      } finally {
        ended = true
        wake?.()
      }
    })()
    try {
      for (;;) {
        if (queue.length === 0) {
          if (ended) break
          await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
          continue
        }
        const messages = queue.splice(0, maxBatch)
        resume?.()
        resume = undefined
        await dispatch(messages, queue.length > 0)
        progressed()
        options.afterDispatch?.()
      }
    } finally {
      // A failed batch ends the subscription too: the next attempt resumes from the committed checkpoints.
      attempt.abort()
      resume?.()
      await reading.catch(() => {})
      // A commit may still run beside the batch that would have followed it: it lands before the next attempt.
      await Promise.all(engines.map((engine) => engine.drained()))
    }
    if (failure !== undefined) throw failure
  }

  /** Hands the engines one batch; with `more`, the next is queued already and may fold beside its commit. */
  async function dispatch(messages: readonly SubscriptionMessage[], more: boolean) {
    const events: RecordedEvent[] = []
    let through = 0n
    let caughtUp = false
    for (const message of messages) {
      if (message.kind === 'event') {
        const { event } = message
        events.push(event)
        // Counted before the engines fold it, so an engine joining now waits until it has it too.
        lastByType.set(event.type, event.position)
        firstEventAt ??= event.position
        eventsDispatched++
        if (event.position > through) through = event.position
      } else if (message.kind === 'checkpoint') {
        if (message.position > through) through = message.position
      } else caughtUp = true
    }
    const batch: EventBatch = { events, through, caughtUp, more }
    await Promise.all(engines.map((engine) => engine.apply(batch)))
    if (through > position) position = through
  }

  return {
    get position() {
      return position
    },
    get engines() {
      return engines
    },
    eventTypes,
    get resubscriptions() {
      return resubscriptions
    },
    averageEventBytes: () =>
      eventsDispatched > 1 && firstEventAt !== undefined
        ? Math.max(1, Number(position - firstEventAt) / (eventsDispatched - 1))
        : 256,
    lastEventOf: (types) =>
      types.reduce((last, type) => {
        const at = lastByType.get(type) ?? 0n
        return at > last ? at : last
      }, 0n),
    add(engine) {
      if (engine.definition.eventTypes.some((type) => !eventTypes.includes(type))) {
        throw new Error(
          `runner ${options.name} does not subscribe to every type ${engine.definition.name} needs`,
        )
      }
      engines = [...engines, engine]
    },
    remove(engine) {
      engines = engines.filter((candidate) => candidate !== engine)
    },
    start() {
      running ??= run()
    },
    async stop() {
      abort.abort()
      await running
    },
  }
}
