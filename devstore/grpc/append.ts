/**
 * Streams.Append, the client-streaming append the client uses when BatchAppend is not advertised (or with
 * per-call credentials): options first, then one message per event, one reply. WrongExpectedVersion is a
 * successful call carrying `wrong_expected_version`.
 */
import type { sendUnaryData, ServerReadableStream } from '@grpc/grpc-js'
import {
  MAX_APPEND_SIZE,
  type AppendResult,
  type ExpectedRevision,
  type ProposedEvent,
} from '../engine/engine.ts'
import { answerOnce } from './answer-once.ts'
import { AppendResp, Empty, type AppendReq } from './protocol.ts'
import { expectedRevisionOf, proposedEventOf, streamNameOf } from './request-fields.ts'
import type { ServiceContext } from './service-context.ts'
import { TIMED_OUT, withinCommitTimeout } from './commit-timeout.ts'
import {
  accessDenied,
  commitTimedOut,
  engineFailure,
  invalidArgument,
  maximumAppendSizeError,
  streamDeletedError,
  unavailable,
} from './status-errors.ts'

type Reply = InstanceType<typeof AppendResp>

export function createAppendHandler(context: ServiceContext) {
  return (call: ServerReadableStream<AppendReq, Reply>, callback: sendUnaryData<Reply>): void => {
    // Tracked here as well as in the server's guard, so that this call sees a shutdown answer and stops.
    const once = answerOnce({ call, callback, calls: context.calls })
    const answer = once.send
    let target: { stream: string; expected: ExpectedRevision } | undefined
    const events: ProposedEvent[] = []
    let size = 0
    call.on('data', (request: AppendReq) => {
      if (once.answered) return
      try {
        if (target === undefined) {
          const options = request.getOptions()
          if (options === undefined)
            return answer(invalidArgument('The first append message must carry options'))
          target = {
            stream: streamNameOf(options.getStreamIdentifier()),
            expected: expectedRevisionOf({
              hasAny: () => options.hasAny(),
              hasNoStream: () => options.hasNoStream(),
              hasStreamExists: () => options.hasStreamExists(),
              revision: options.hasRevision() ? options.getRevision() : undefined,
            }),
          }
          return
        }
        const message = request.getProposedMessage()
        if (message === undefined) return
        const event = proposedEventOf(message)
        size += event.data.length + event.metadata.length
        if (size > MAX_APPEND_SIZE) return answer(maximumAppendSizeError(MAX_APPEND_SIZE))
        events.push(event)
      } catch (error) {
        answer(engineFailure(error))
      }
    })
    call.on('end', () => {
      if (once.answered) return
      if (target === undefined) return answer(invalidArgument('An append needs options'))
      if (context.faults.takeAppendFailure()) return answer(unavailable('Append failed (injected fault)'))
      const { stream, expected } = target
      if (!context.access.canAccess(call, stream, 'write')) return answer(accessDenied())
      withinCommitTimeout(context, context.engine.append(stream, expected, events)).then(
        (result) => (result === TIMED_OUT ? answer(commitTimedOut()) : answerResult(result, stream, answer)),
        (error: unknown) => answer(engineFailure(error)),
      )
    })
    call.on('error', () => answer(unavailable('The append call failed')))
  }
}

function answerResult(result: AppendResult, stream: string, answer: sendUnaryData<Reply>): void {
  const reply = new AppendResp()
  switch (result.kind) {
    case 'ok': {
      const success = new AppendResp.Success()
      // An empty append to a stream that does not exist has no revision and no position to report.
      if (result.nextRevision < 0n) success.setNoStream(new Empty())
      else success.setCurrentRevision(result.nextRevision.toString())
      if (result.position < 0n) success.setNoPosition(new Empty())
      else {
        const position = new AppendResp.Position()
        position.setCommitPosition(result.position.toString())
        position.setPreparePosition(result.position.toString())
        success.setPosition(position)
      }
      reply.setSuccess(success)
      return answer(null, reply)
    }
    case 'wrong-expected-version': {
      const wrong = new AppendResp.WrongExpectedVersion()
      if (result.currentRevision === undefined) wrong.setCurrentNoStream(new Empty())
      else wrong.setCurrentRevision(result.currentRevision.toString())
      const expected = result.expected
      if (expected === 'any') wrong.setExpectedAny(new Empty())
      else if (expected === 'no_stream') wrong.setExpectedNoStream(new Empty())
      else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new Empty())
      else wrong.setExpectedRevision(expected.toString())
      reply.setWrongExpectedVersion(wrong)
      return answer(null, reply)
    }
    case 'stream-deleted':
      return answer(streamDeletedError(stream))
    case 'too-big':
      return answer(maximumAppendSizeError(result.max))
  }
}
