import { commandScheduling, scheduleIdOf } from '../command-scheduling.ts'
import { context as contexts } from '@opentelemetry/api'
import type { PartitionRunnerContext } from '../partition-set.ts'
import { AnnalsError, type ReadSideLogger, type RecordedEvent, nameBasedUuid } from '../../framework/index.ts'
import type { ReactorContext, ReactorDefinition } from './define-reactor.ts'
import type { ReactorDeadLetter, ReactorDeadLetters } from './reactor-dead-letters.ts'
import {
  passesByItself,
  pause,
  retryDelay,
  spanAttributes,
  startEventSpan,
} from '../../framework/internal.ts'
import { defaultHandlerRetry, defaultResubscribeRetry } from '../retry-policy.ts'
import { followWithResubscribe } from '../resubscribe.ts'

export interface ReactorPartitionOptions extends PartitionRunnerContext {
  readonly definition: ReactorDefinition
  readonly partition: string
  readonly deadLetters: ReactorDeadLetters
  readonly log?: ReadSideLogger
}

export interface ReactorPartition {
  /** The position of the last event handled and checkpointed durably. */
  readonly checkpoint: bigint | undefined
  /** The position it has handled the log through (the checkpoint trails it by a few events or ms). */
  readonly position: bigint
  /** Whether an event is this partition's to handle. */
  readonly ownsEvent: (event: RecordedEvent) => boolean
  readonly eventsHandled: number
  /** Resolves after the partition has been stopped and its handler in flight has ended. */
  stop(): Promise<void>
}

/** How many checkpoints a reactor's checkpoint stream keeps. */
const CHECKPOINT_MAX_COUNT = 5
/**
 * A partition writes its checkpoint after this many handled events, after this long, and whenever its
 * subscription catches up: a checkpoint per event would double the writes of a busy reactor, and handling
 * the few events after a crash again has no second effect (sends carry command ids derived from the event).
 */
const CHECKPOINT_EVERY = 200
const CHECKPOINT_INTERVAL_MS = 250
const CHECKPOINT_EVENT = 'ReactorCheckpoint'

/** The stream that holds a reactor partition's checkpoint. */
export function reactorCheckpointStream(reactor: string, partition: string): string {
  return `annals-reactor-${reactor}-${partition}`
}

/**
 * Starts one partition of a reactor: reads its checkpoint, subscribes to `$all` after it, handles each event
 * of the partition (retrying with back-off, an unavailable store without end), and commits the checkpoint
 * every so many events and when caught up: at least once, and with derived command ids no second effect.
 */
export function startReactorPartition(options: ReactorPartitionOptions): ReactorPartition {
  const { definition, partition, store, log } = options
  const handlerPolicy = { ...defaultHandlerRetry, ...options.retry, ...definition.retry }
  const storePolicy = { ...defaultResubscribeRetry, ...options.resubscribeRetry }
  const stream = reactorCheckpointStream(definition.name, partition)
  const abort = new AbortController()
  const { signal } = abort
  let checkpoint: bigint | undefined
  /** Events of other partitions move this on without a durable write. */
  let considered: bigint | undefined
  let eventsHandled = 0

  function run() {
    return followWithResubscribe(
      {
        signal,
        policy: storePolicy,
        onFailure: (error, retryInMs) =>
          log?.warn({ reactor: definition.name, partition, err: error, retryInMs }, 'reactor resubscribing'),
      },
      async (delivered) => {
        if (considered === undefined) {
          checkpoint = await readCheckpoint()
          considered = checkpoint ?? 0n
        }
        const from = considered
        const messages = store.subscribeToAll({
          fromPosition: from === 0n ? 'start' : from,
          eventTypes: definition.eventTypes,
          signal,
        })
        let handled: bigint | undefined
        let handledSince = 0
        let firstHandledAt = 0
        for await (const message of messages) {
          delivered()
          if (message.kind === 'event') {
            const { event } = message
            if (!ownsEvent(event)) {
              considered = event.position
              continue
            }
            await handle(event)
            if (signal.aborted) return
            // Moved once handled: while a handler runs, its event still counts as behind (the lag).
            considered = event.position
            if (handledSince++ === 0) firstHandledAt = Date.now()
            handled = event.position
            if (handledSince < CHECKPOINT_EVERY && Date.now() - firstHandledAt < CHECKPOINT_INTERVAL_MS)
              continue
          } else if (message.kind === 'checkpoint') {
            // Every event before it has been handled: the position (and the lag read from it) moves on.
            if (considered === undefined || message.position > considered) considered = message.position
            continue
          }
          // Caught up, or enough handled: the position goes down once.
          if (handled !== undefined && handled !== checkpoint) {
            await commit(handled)
            handledSince = 0
          }
        }
      },
    )
  }

  function ownsEvent(event: RecordedEvent): boolean {
    return definition.handles(event) && definition.partitionOf(event) === partition
  }

  async function readCheckpoint(): Promise<bigint | undefined> {
    const metadata = await store.getStreamMetadata(stream)
    if (metadata?.$maxCount === undefined) {
      await store.setStreamMetadata(stream, { ...metadata, $maxCount: CHECKPOINT_MAX_COUNT })
    }
    for await (const event of store.readStream(stream, { direction: 'backwards', maxCount: 1 })) {
      return BigInt((event.data as { position: string }).position)
    }
    return undefined
  }

  async function handle(event: RecordedEvent) {
    const traced = startEventSpan(`reactor ${definition.name}`, event)
    if (traced === undefined) return attempt(event)
    traced.span.setAttribute(spanAttributes.reactor, definition.name)
    // The reaction's commands run in its span: their spans and events continue the causing command's trace.
    await contexts.with(traced.context, attempt, undefined, event).finally(() => traced.span.end())
  }

  async function attempt(event: RecordedEvent) {
    // Waits for a down store or a saturated replica do not use up the handler's own retries.
    let failures = 0
    let waits = 0
    while (!signal.aborted) {
      try {
        const routed = definition.route(event)
        await routed.handle(routed.event, context(event, routed.aggregateId))
        eventsHandled++
        return
      } catch (error) {
        if (signal.aborted) return
        if (passesByItself(error)) {
          await pause(retryDelay(storePolicy, ++waits), signal)
          continue
        }
        if (++failures > handlerPolicy.attempts) {
          log?.error(
            { reactor: definition.name, partition, eventId: event.id, err: error },
            'reactor gave up',
          )
          await keepDeadLetter(deadLetter(event, error))
          return
        }
        await pause(retryDelay(handlerPolicy, failures), signal)
      }
    }
  }

  /** Keeps a dead letter before the checkpoint passes its event; an unavailable store is waited out. */
  async function keepDeadLetter(letter: ReactorDeadLetter) {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        return await options.deadLetters.record(letter)
      } catch {
        await pause(retryDelay(storePolicy, attempt), signal)
      }
    }
  }

  /** Writes the checkpoint; an unavailable store is waited out, since the next commit would cover it anyway. */
  async function commit(position: bigint) {
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const data = { position: position.toString() }
        await store.appendToStream(stream, [
          { id: nameBasedUuid(`${stream}/${position}`), type: CHECKPOINT_EVENT, data },
        ])
        checkpoint = position
        return
      } catch (error) {
        if (attempt >= 5) {
          log?.warn({ reactor: definition.name, partition, err: error }, 'checkpoint not written; going on')
          return
        }
        await pause(retryDelay(storePolicy, attempt), signal)
      }
    }
  }

  function context(event: RecordedEvent, aggregateId: string): ReactorContext {
    return reactorContext({ ...options, event, aggregateId, signal })
  }

  function deadLetter(event: RecordedEvent, error: unknown): ReactorDeadLetter {
    return {
      id: event.id,
      reactor: definition.name,
      partition,
      eventId: event.id,
      eventType: event.type,
      streamName: event.streamName,
      position: event.position,
      error: error instanceof Error ? error.message : String(error),
      failedAt: new Date(),
    }
  }

  const running = run()
  return {
    get checkpoint() {
      return checkpoint
    },
    get position() {
      return considered ?? checkpoint ?? 0n
    },
    ownsEvent,
    get eventsHandled() {
      return eventsHandled
    },
    async stop() {
      abort.abort()
      await running
    },
  }
}

/**
 * What a reactor handler gets for one event: `send` with command ids derived from the event and the call's
 * index, so that handling the event again (after a crash, or a retried dead letter) has no second effect.
 */
export function reactorContext(
  options: Pick<ReactorPartitionOptions, 'definition' | 'partition' | 'commands' | 'readModel'> & {
    readonly event: RecordedEvent
    readonly aggregateId: string
    readonly signal: AbortSignal
  },
): ReactorContext {
  const { event, signal, definition } = options
  let sends = 0
  const send: ReactorContext['send'] = (command) => {
    // A partition that stopped or moved sends nothing more; the new owner repeats the event.
    if (signal.aborted)
      return Promise.reject(new AnnalsError('SHUTTING_DOWN', 'The reactor partition stopped'))
    return options.commands.execute({
      aggregate: typeof command.aggregate === 'string' ? command.aggregate : command.aggregate.name,
      command: command.command,
      aggregateId: command.aggregateId,
      input: command.input,
      commandId: nameBasedUuid(`annals-reactor/${definition.name}/${event.id}/${sends++}`),
    })
  }
  return {
    send,
    ...commandScheduling(send, (index) =>
      scheduleIdOf(`annals-reactor/${definition.name}/${event.id}`, index),
    ),
    readModel: options.readModel as ReactorContext['readModel'],
    aggregateId: options.aggregateId,
    eventId: event.id,
    streamName: event.streamName,
    position: event.position,
    revision: event.revision,
    createdAt: event.createdAt,
    metadata: event.metadata,
    partition: options.partition,
    signal,
  }
}
