import type { FastifyReply, FastifyRequest } from 'fastify'
import { LogController } from 'fastify'

/** Default threshold above which a request is logged as slow, in milliseconds. */
export const DEFAULT_SLOW_REQUEST_MS = 1_000

/**
 * What fastify logs per request: every request at debug (incoming and completed), so production at info
 * writes what an operator acts on, not two lines per request: failures (5xx) at error, and a request slower
 * than `slowRequestMs` at warn with its time, method and route. Client errors (4xx) and unknown routes go to
 * debug with the rest, since a flood of them would otherwise write as much as the requests themselves.
 */
export function createRequestLog(options: { readonly slowRequestMs: number }): LogController {
  const { slowRequestMs } = options
  return new (class RequestLog extends LogController {
    override incomingRequest(request: FastifyRequest): void {
      request.log.debug({ req: request }, 'incoming request')
    }
    override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
      const responseTime = reply.elapsedTime
      if (error) reply.log.error({ res: reply, err: error, responseTime }, 'request errored')
      else if (responseTime >= slowRequestMs) {
        const { method, url } = request
        reply.log.warn({ req: { method, url }, res: reply, responseTime }, 'slow request')
      } else reply.log.debug({ res: reply, responseTime }, 'request completed')
    }
    override defaultErrorLog(error: Error, request: FastifyRequest, reply: FastifyReply): void {
      if (reply.statusCode >= 500) reply.log.error({ req: request, res: reply, err: error }, error.message)
      else reply.log.debug({ res: reply, err: error }, error.message)
    }
    override routeNotFound(request: FastifyRequest): void {
      request.log.debug(`Route ${request.method}:${request.url} not found`)
    }
  })()
}
