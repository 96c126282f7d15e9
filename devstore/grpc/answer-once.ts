/**
 * The answer of a call that answers once (unary or client-streaming): the call is tracked in OpenCalls from
 * now until it is answered, so that shutdown answers it UNAVAILABLE; whichever answer comes second is
 * dropped, and a call the client cancelled is answered by no one.
 */
import type { sendUnaryData } from '@grpc/grpc-js'
import type { OpenCalls } from './open-calls.ts'
import { unavailable } from './status-errors.ts'

/** The part of a grpc-js call this needs: it tells when the client cancelled. */
export interface CancellableCall {
  on(event: 'cancelled', listener: () => void): unknown
}

export interface AnswerOnceOptions<TReply> {
  readonly call: CancellableCall
  readonly callback: sendUnaryData<TReply>
  readonly calls: OpenCalls
}

export interface UnaryAnswer<TReply> {
  /** Answers the call, unless it was answered or cancelled before. */
  readonly send: sendUnaryData<TReply>
  /** True once the call was answered (by its handler or by shutdown) or cancelled. */
  readonly answered: boolean
}

export function answerOnce<TReply>(options: AnswerOnceOptions<TReply>): UnaryAnswer<TReply> {
  let answered = false
  const untrack = options.calls.add({
    kind: 'unary',
    end: () => send(unavailable('The server is shutting down')),
  })
  const send: sendUnaryData<TReply> = (...args) => {
    if (answered) return
    answered = true
    untrack()
    options.callback(...args)
  }
  options.call.on('cancelled', () => {
    answered = true
    untrack()
  })
  return {
    send,
    get answered() {
      return answered
    },
  }
}
