/**
 * Streams.BatchAppend: one long-lived bidirectional call per client. Requests are matched by correlation
 * id, may span several messages (until `is_final`), carry their own deadline and are answered as they
 * complete, interleaved. Failures travel as google.rpc.Status with a packed detail, each on its own request:
 * one request's failure (an engine error, an injected fault) answers that request only, and the call and
 * its other requests carry on, as EventStoreDB answers each request with its own response. Only a message
 * that breaks the protocol (malformed bytes, no options, no event id) ends the whole call. Messages arrive
 * as the plain data decode-batch-append-request.ts reads (the service's request deserializer).
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js'
import {
  MAX_APPEND_SIZE,
  type AppendResult,
  type ExpectedRevision,
  type ProposedEvent,
} from '../engine/engine.ts'
import type {
  DecodedBatchAppendRequest,
  DecodedTimestamp,
  DecodedUuid,
} from './decode-batch-append-request.ts'
import { encodeBatchAppendReply, type BatchAppendOutcome } from './encode-batch-append-reply.ts'
import { BatchAppendResp, Status } from './protocol.ts'
import { TIMED_OUT, withinCommitTimeout } from './commit-timeout.ts'
import { DeadlineWatch } from './deadline-watch.ts'
import { RequestRefused } from './request-refused.ts'
import { decodedProposedEventOf, streamNameFrom, uuidKeyOf } from './request-fields.ts'
import type { ServiceContext } from './service-context.ts'
import {
  accessDeniedStatus,
  engineFailure,
  engineFailureStatus,
  maximumAppendSizeStatus,
  invalidArgument,
  notReadyStatus,
  serviceError,
  streamDeletedStatus,
  timeoutStatus,
  wrongExpectedVersionStatus,
} from './status-errors.ts'

type Reply = InstanceType<typeof BatchAppendResp>
type StatusMessage = InstanceType<typeof Status>

interface PendingRequest {
  readonly correlationId: DecodedUuid
  readonly streamName: Uint8Array
  readonly stream: string
  readonly expected: ExpectedRevision
  readonly deadline: number
  readonly events: ProposedEvent[]
  size: number
  /** Answered: by the engine, or by its deadline passing first; whichever comes second is dropped. */
  answered: boolean
}

export function createBatchAppendHandler(context: ServiceContext) {
  return (call: ServerDuplexStream<DecodedBatchAppendRequest | RequestRefused, Reply>): void => {
    let open = true
    const untrack = context.calls.add({
      kind: 'batch-append',
      end: () => {
        open = false
        watch.stop()
        call.emit('error', serviceError(status.CANCELLED, 'The server is shutting down'))
      },
    })
    const pending = new Map<string, PendingRequest>()
    let inFlight = 0
    let inputEnded = false
    const finishIfDone = () => {
      if (inputEnded && inFlight === 0 && open) {
        open = false
        untrack()
        call.end()
      }
    }
    // One request's outcome, answered once: each request settles exactly once, whatever answers it.
    const answer = (request: PendingRequest, result: StatusMessage | AppendResult) => {
      if (request.answered) return
      request.answered = true
      watch.remove(request)
      if (open) call.write(replyFor(request, result))
      inFlight--
      finishIfDone()
    }
    const watch = new DeadlineWatch<PendingRequest>((request) => answer(request, timeoutStatus()))
    // A message the protocol does not allow ends the whole call: its requests cannot be told apart.
    const fail = (error: unknown) => {
      if (!open) return
      open = false
      watch.stop()
      untrack()
      call.emit('error', engineFailure(error))
    }
    const onAppended = (request: PendingRequest, result: AppendResult) => answer(request, result)
    const onFailed = (request: PendingRequest, error: unknown) => answer(request, engineFailureStatus(error))
    /** Appends, or gives up with a Timeout when the request's deadline passes first. */
    const append = (request: PendingRequest) => {
      try {
        if (request.size > MAX_APPEND_SIZE) return answer(request, maximumAppendSizeStatus(MAX_APPEND_SIZE))
        const now = Date.now()
        if (request.deadline - now <= 0) return answer(request, timeoutStatus())
        withinCommitTimeout(
          context,
          context.engine.append(request.stream, request.expected, request.events),
        ).then(
          (result) => (result === TIMED_OUT ? answer(request, timeoutStatus()) : onAppended(request, result)),
          (error: unknown) => onFailed(request, error),
        )
        if (Number.isFinite(request.deadline)) watch.add(request, now)
      } catch (error) {
        onFailed(request, error)
      }
    }
    // The answer to one request: never a throw, so one request's failure stays its own.
    const process = (request: PendingRequest) => {
      inFlight++
      try {
        if (!context.access.canAccess(call, request.stream, 'write')) {
          return answer(request, accessDeniedStatus())
        }
        if (context.faults.takeAppendFailure()) {
          return answer(request, notReadyStatus('Append failed (injected fault)'))
        }
        // A slow server, as the unary handlers model it: the request waits before it is handled, so its
        // deadline is checked against the delay like any other work.
        const delay = context.faults.replyDelayMs
        if (delay > 0) {
          setTimeout(() => append(request), delay)
          context.faults.replyHeld()
        } else append(request)
      } catch (error) {
        onFailed(request, error)
      }
    }
    call.on('data', (message: DecodedBatchAppendRequest | RequestRefused) => {
      // A call that ended (failed, cancelled) appends nothing more.
      if (!open) return
      if (message instanceof RequestRefused) return fail(message)
      let request: PendingRequest | undefined
      try {
        const key = uuidKeyOf(message.correlationId)
        request = pending.get(key)
        if (request === undefined) {
          request = startRequest(message)
          pending.set(key, request)
        }
        for (const proposed of message.proposedMessages) {
          const event = decodedProposedEventOf(proposed)
          request.size += event.data.length + event.metadata.length
          request.events.push(event)
        }
        if (message.isFinal) {
          pending.delete(key)
          process(request)
        }
      } catch (error) {
        fail(error)
      }
    })
    call.on('end', () => {
      inputEnded = true
      finishIfDone()
    })
    call.on('cancelled', () => {
      open = false
      watch.stop()
      untrack()
    })
    call.on('error', () => {
      open = false
      watch.stop()
      untrack()
    })
  }
}

function startRequest(message: DecodedBatchAppendRequest): PendingRequest {
  const { options, correlationId } = message
  if (options === undefined || correlationId === undefined) {
    throw new RequestRefused(
      invalidArgument('The first message of a batch append request must carry options'),
    )
  }
  const streamName = options.streamIdentifier?.streamName
  return {
    correlationId,
    streamName: streamName ?? new Uint8Array(),
    stream: streamNameFrom(streamName),
    expected: options.expected ?? 'any',
    deadline: deadlineOf(options.deadline),
    events: [],
    size: 0,
    answered: false,
  }
}

const MAX_TIME = 8.64e15

/** The deadline in epoch milliseconds, as `timestamp.toDate().getTime()` gives it, without the Date. */
function deadlineOf(timestamp: DecodedTimestamp | undefined): number {
  if (timestamp === undefined) return Number.POSITIVE_INFINITY
  const time = timestamp.seconds * 1000 + timestamp.nanos / 1_000_000
  // A Date clips its time: an invalid one (NaN) never passes, as before.
  return Math.abs(time) > MAX_TIME || Number.isNaN(time) ? Number.NaN : Math.trunc(time) + 0
}

function replyFor(request: PendingRequest, result: StatusMessage | AppendResult): Reply {
  if (result instanceof Status) return encodeBatchAppendReply(request, errorOf(result))
  switch (result.kind) {
    case 'ok':
      // An empty append to a stream that does not exist has no revision and no position to report.
      return encodeBatchAppendReply(request, {
        kind: 'success',
        revision: result.nextRevision,
        position: result.position,
      })
    case 'wrong-expected-version':
      return encodeBatchAppendReply(
        request,
        errorOf(wrongExpectedVersionStatus(result.expected, result.currentRevision)),
      )
    case 'stream-deleted':
      return encodeBatchAppendReply(request, errorOf(streamDeletedStatus(request.stream)))
    case 'too-big':
      return encodeBatchAppendReply(request, errorOf(maximumAppendSizeStatus(result.max)))
  }
}

function errorOf(status: StatusMessage): BatchAppendOutcome {
  return { kind: 'error', status: status.serializeBinary() }
}
