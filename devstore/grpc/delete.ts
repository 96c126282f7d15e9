/**
 * Streams.Delete (soft delete) and Streams.Tombstone, both unary. WrongExpectedVersion and a deleted stream
 * fail with FAILED_PRECONDITION and the trailers the client reads.
 */
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js'
import type { DeleteResult } from '../engine/engine.ts'
import { DeleteResp, TombstoneResp, type DeleteReq, type TombstoneReq } from './protocol.ts'
import { RequestRefused } from './request-refused.ts'
import { expectedRevisionOf, streamNameOf } from './request-fields.ts'
import type { ServiceContext } from './service-context.ts'
import { TIMED_OUT, withinCommitTimeout } from './commit-timeout.ts'
import {
  commitTimedOut,
  engineFailure,
  invalidArgument,
  streamDeletedError,
  wrongExpectedVersionError,
} from './status-errors.ts'

type Reply = InstanceType<typeof DeleteResp> | InstanceType<typeof TombstoneResp>

export function createDeleteHandler(context: ServiceContext, kind: 'delete' | 'tombstone') {
  // The server's guard answers once and answers UNAVAILABLE on shutdown (answer-once.ts).
  return (call: ServerUnaryCall<DeleteReq | TombstoneReq, Reply>, answer: sendUnaryData<Reply>): void => {
    const run = async () => {
      const options = call.request.getOptions()
      if (options === undefined) throw new RequestRefused(invalidArgument('A delete needs options'))
      const stream = streamNameOf(options.getStreamIdentifier())
      const expected = expectedRevisionOf({
        hasAny: () => options.hasAny(),
        hasNoStream: () => options.hasNoStream(),
        hasStreamExists: () => options.hasStreamExists(),
        revision: options.hasRevision() ? options.getRevision() : undefined,
      })
      context.access.assertStream(call, stream, 'delete')
      const write =
        kind === 'delete'
          ? context.engine.softDelete(stream, expected)
          : context.engine.tombstone(stream, expected)
      const result = await withinCommitTimeout(context, write)
      if (result === TIMED_OUT) return answer(commitTimedOut())
      answerResult(result, stream, kind, answer)
    }
    run().catch((error: unknown) => answer(engineFailure(error)))
  }
}

function answerResult(
  result: DeleteResult,
  stream: string,
  kind: 'delete' | 'tombstone',
  answer: sendUnaryData<Reply>,
): void {
  switch (result.kind) {
    case 'ok': {
      const reply = kind === 'delete' ? new DeleteResp() : new TombstoneResp()
      const position = kind === 'delete' ? new DeleteResp.Position() : new TombstoneResp.Position()
      position.setCommitPosition(result.position.toString())
      position.setPreparePosition(result.position.toString())
      ;(reply as { setPosition(value: typeof position): unknown }).setPosition(position)
      return answer(null, reply)
    }
    case 'wrong-expected-version':
      return answer(wrongExpectedVersionError(stream, result.expected, result.currentRevision))
    case 'stream-deleted':
      return answer(streamDeletedError(stream))
  }
}
