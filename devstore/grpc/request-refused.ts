import type { ServiceError } from '@grpc/grpc-js'

/** Thrown where a request is refused deep in a handler; the handler answers with `error`. */
export class RequestRefused extends Error {
  constructor(readonly error: ServiceError) {
    super(error.details)
  }
}
