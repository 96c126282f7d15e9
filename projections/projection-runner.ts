import type { EventStore } from '../framework/event-store/event-store.ts'
import type { ReadSideLogger } from '../framework/read-model/read-side.ts'
import type { ProjectionEngine } from './projection-engine.ts'
import { defaultResubscribeRetry, pause, retryDelay, type RetryPolicy } from './retry-policy.ts'

/** A projection engine as a runner drives it, whatever its row type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyEngine = ProjectionEngine<any>

export interface ProjectionRunnerOptions {
  readonly store: EventStore
  readonly name: string
  readonly engines: readonly AnyEngine[]
  readonly retry?: Partial<RetryPolicy>
  readonly log?: ReadSideLogger
  /** Called after each message is dispatched, synchronously: where a joining engine is handed over. */
  readonly afterDispatch?: () => void
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
 * event types they handle, from their lowest position. When the store drops the subscription or is
 * unavailable it resubscribes, after a back-off, from the engines' positions: each engine skips what it
 * already has, so nothing is missed and nothing is folded twice.
 */
export function createProjectionRunner(options: ProjectionRunnerOptions): ProjectionRunner {
  const { store, log } = options
  const policy = { ...defaultResubscribeRetry, ...options.retry }
  let engines: readonly AnyEngine[] = options.engines
  const eventTypes = [...new Set(engines.flatMap((engine) => engine.definition.eventTypes))]
  const lastByType = new Map<string, bigint>()
  let position = 0n
  let resubscriptions = 0
  let firstEventAt: bigint | undefined
  let eventsDispatched = 0
  const abort = new AbortController()
  let running: Promise<void> | undefined

  async function run() {
    let failures = 0
    while (!abort.signal.aborted) {
      // An engine reading held events again after a restart resumes before its checkpoint.
      const from = engines.reduce(
        (low, engine) => (engine.resumeFrom < low ? engine.resumeFrom : low),
        engines[0]?.resumeFrom ?? position,
      )
      try {
        const subscription = store.subscribeToAll({
          fromPosition: from === 0n ? 'start' : from,
          eventTypes,
          signal: abort.signal,
        })
        for await (const message of subscription) {
          failures = 0
          if (message.kind === 'event') {
            const { event } = message
            for (const engine of engines) engine.apply(event)
            lastByType.set(event.type, event.position)
            firstEventAt ??= event.position
            eventsDispatched++
            if (event.position > position) position = event.position
          } else if (message.kind === 'checkpoint') {
            for (const engine of engines) engine.advance(message.position)
            if (message.position > position) position = message.position
          } else {
            for (const engine of engines) engine.caughtUp = true
          }
          options.afterDispatch?.()
        }
        if (abort.signal.aborted) return
        throw new Error('the subscription ended')
      } catch (error) {
        if (abort.signal.aborted) return
        failures++
        resubscriptions++
        const delay = retryDelay(policy, failures)
        log?.warn(
          { runner: options.name, err: error, retryInMs: delay },
          'subscription dropped; resubscribing',
        )
        await pause(delay, abort.signal)
      }
    }
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
