/**
 * Streams.BatchAppend: one long-lived bidirectional call per client. Requests are matched by correlation
 * id, may span several messages (until `is_final`), carry their own deadline and are answered as they
 * complete, interleaved. Failures travel as google.rpc.Status with a packed detail, each on its own request:
 * one request's failure (an engine error, an injected fault) answers that request only, and the call and
 * its other requests carry on, as EventStoreDB answers each request with its own response. Only a message
 * that breaks the protocol (no options, no event id) ends the whole call.
 */
import { status, type ServerDuplexStream } from '@grpc/grpc-js'
import {
  MAX_APPEND_SIZE,
  type AppendResult,
  type ExpectedRevision,
  type ProposedEvent,
} from '../engine/engine.ts'
import {
  AllStreamPosition,
  BatchAppendResp,
  GoogleEmpty,
  Status,
  type BatchAppendReq,
  type StreamIdentifier,
  type UUID,
} from './protocol.ts'
import { RequestRefused } from './request-refused.ts'
import { expectedRevisionOf, proposedEventOf, streamNameOf, uuidOf } from './request-fields.ts'
import type { ServiceContext } from './server.ts'
import {
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
  readonly correlationId: UUID
  readonly identifier: StreamIdentifier
  readonly stream: string
  readonly expected: ExpectedRevision
  readonly deadline: number
  readonly events: ProposedEvent[]
  size: number
}

export function createBatchAppendHandler(context: ServiceContext) {
  return (call: ServerDuplexStream<BatchAppendReq, Reply>): void => {
    let open = true
    const untrack = context.calls.add({
      kind: 'batch-append',
      end: () => {
        open = false
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
    const reply = (request: PendingRequest, result: StatusMessage | AppendResult) => {
      if (!open) return
      call.write(replyFor(request, result))
    }
    // A message the protocol does not allow ends the whole call: its requests cannot be told apart.
    const fail = (error: unknown) => {
      if (!open) return
      open = false
      untrack()
      call.emit('error', engineFailure(error))
    }
    const process = async (request: PendingRequest) => {
      inFlight++
      try {
        reply(request, await outcomeOf(context, request))
      } finally {
        inFlight--
        finishIfDone()
      }
    }
    call.on('data', (message: BatchAppendReq) => {
      let request: PendingRequest | undefined
      try {
        const key = uuidOf(message.getCorrelationId())
        request = pending.get(key)
        if (request === undefined) {
          request = startRequest(message)
          pending.set(key, request)
        }
        for (const proposed of message.getProposedMessagesList()) {
          const event = proposedEventOf(proposed)
          request.size += event.data.length + event.metadata.length
          request.events.push(event)
        }
        if (message.getIsFinal()) {
          pending.delete(key)
          void process(request)
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
      untrack()
    })
    call.on('error', () => {
      open = false
      untrack()
    })
  }
}

function startRequest(message: BatchAppendReq): PendingRequest {
  const options = message.getOptions()
  const correlationId = message.getCorrelationId()
  if (options === undefined || correlationId === undefined) {
    throw new RequestRefused(
      invalidArgument('The first message of a batch append request must carry options'),
    )
  }
  const identifier = options.getStreamIdentifier()!
  const deadline = options.getDeadline()
  return {
    correlationId,
    identifier,
    stream: streamNameOf(identifier),
    expected: expectedRevisionOf({
      hasAny: () => options.hasAny(),
      hasNoStream: () => options.hasNoStream(),
      hasStreamExists: () => options.hasStreamExists(),
      revision: options.hasStreamPosition() ? options.getStreamPosition() : undefined,
    }),
    deadline: deadline === undefined ? Number.POSITIVE_INFINITY : deadline.toDate().getTime(),
    events: [],
    size: 0,
  }
}

/** The answer to one request: never a rejection, so one request's failure stays its own. */
async function outcomeOf(
  context: ServiceContext,
  request: PendingRequest,
): Promise<StatusMessage | AppendResult> {
  try {
    if (context.faults.takeAppendFailure()) return notReadyStatus('Append failed (injected fault)')
    // A slow server, as the unary handlers model it: the request waits before it is handled, so its
    // deadline is checked against the delay like any other work.
    const delay = context.faults.replyDelayMs
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    return await appendBefore(context, request)
  } catch (error) {
    return engineFailureStatus(error)
  }
}

/** Appends, or gives up with a Timeout when the request's deadline passes first. */
async function appendBefore(
  context: ServiceContext,
  request: PendingRequest,
): Promise<StatusMessage | AppendResult> {
  if (request.size > MAX_APPEND_SIZE) return maximumAppendSizeStatus(MAX_APPEND_SIZE)
  const remaining = request.deadline - Date.now()
  if (remaining <= 0) return timeoutStatus()
  const append = context.engine.append(request.stream, request.expected, request.events)
  if (!Number.isFinite(remaining)) return append
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<StatusMessage>((resolve) => {
    timer = setTimeout(() => resolve(timeoutStatus()), remaining)
  })
  try {
    return await Promise.race([append, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function replyFor(request: PendingRequest, result: StatusMessage | AppendResult): Reply {
  const message = new BatchAppendResp()
  message.setCorrelationId(request.correlationId)
  message.setStreamIdentifier(request.identifier)
  const expected = request.expected
  if (expected === 'any') message.setAny(new GoogleEmpty())
  else if (expected === 'no_stream') message.setNoStream(new GoogleEmpty())
  else if (expected === 'stream_exists') message.setStreamExists(new GoogleEmpty())
  else message.setStreamPosition(expected.toString())
  if (result instanceof Status) {
    message.setError(result)
    return message
  }
  switch (result.kind) {
    case 'ok': {
      const success = new BatchAppendResp.Success()
      // An empty append to a stream that does not exist has no revision and no position to report.
      if (result.nextRevision < 0n) success.setNoStream(new GoogleEmpty())
      else success.setCurrentRevision(result.nextRevision.toString())
      if (result.position < 0n) success.setNoPosition(new GoogleEmpty())
      else {
        const position = new AllStreamPosition()
        position.setCommitPosition(result.position.toString())
        position.setPreparePosition(result.position.toString())
        success.setPosition(position)
      }
      message.setSuccess(success)
      return message
    }
    case 'wrong-expected-version':
      message.setError(wrongExpectedVersionStatus(result.expected, result.currentRevision))
      return message
    case 'stream-deleted':
      message.setError(streamDeletedStatus(request.stream))
      return message
    case 'too-big':
      message.setError(maximumAppendSizeStatus(result.max))
      return message
  }
}
