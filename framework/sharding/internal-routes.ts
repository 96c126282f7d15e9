import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CommandResult } from '../command/command-bus.ts'
import type { ClusterStatus } from './cluster.ts'
import { errorToWire, resultToWire, type WireCommand, type WireError } from './command-wire.ts'
import type { Membership, ProbeAnswer } from './membership.ts'
import { carriesSecret } from './peer-client.ts'

/** The prefix of the internal channel: not part of the GraphQL surface, and authenticated. */
export const INTERNAL_PREFIX = '/_annals'

export interface InternalRoutesOptions {
  /** Undefined only outside production: the channel is then open (loopback development). */
  readonly secret: string | undefined
  readonly membership: Membership
  /** Runs a forwarded command on this replica. */
  readonly execute: (command: WireCommand) => Promise<CommandResult>
  readonly status: () => ClusterStatus
}

/**
 * Registers the internal routes on a replica's fastify instance: probe, leave, commands and ring. Every
 * route refuses a request without the shared secret before its body is read.
 */
export function registerInternalRoutes(http: FastifyInstance, options: InternalRoutesOptions): void {
  const { secret, membership } = options
  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    if (secret !== undefined && !carriesSecret(request.headers.authorization, secret)) {
      await reply
        .code(401)
        .send({ code: 'UNAUTHENTICATED', message: 'The internal channel needs the cluster secret' })
    }
  }
  const config = { onRequest: authenticate, logLevel: 'warn' as const }

  http.post(`${INTERNAL_PREFIX}/probe`, config, (request) => {
    const body = request.body as { from?: unknown; state?: unknown } | undefined
    if (typeof body?.from === 'string' && (body.state === 'alive' || body.state === 'leaving')) {
      membership.heardFrom(body.from, body.state)
    }
    const state: ProbeAnswer = membership.isLeaving() ? 'leaving' : 'alive'
    return { state }
  })

  http.post(`${INTERNAL_PREFIX}/leave`, config, (request) => {
    const body = request.body as { from?: unknown } | undefined
    if (typeof body?.from === 'string') membership.heardFrom(body.from, 'leaving')
    return { ok: true }
  })

  http.post(`${INTERNAL_PREFIX}/commands`, config, async (request, reply) => {
    const command = request.body as WireCommand
    if (
      typeof command?.envelope?.aggregateId !== 'string' ||
      typeof command.envelope.commandId !== 'string'
    ) {
      return reply.code(400).send({ code: 'BAD_INPUT', message: 'A forwarded command needs an envelope' })
    }
    if (membership.isLeaving()) {
      const body: WireError = { code: 'OWNER_UNAVAILABLE', message: 'This replica is leaving', retry: true }
      return reply.code(503).send(body)
    }
    try {
      return resultToWire(await options.execute(command))
    } catch (error) {
      const wire = errorToWire(error)
      if (wire.body.code === 'INTERNAL') request.log.error({ err: error }, 'forwarded command failed')
      return reply.code(wire.status).send(wire.body)
    }
  })

  http.get(`${INTERNAL_PREFIX}/ring`, config, () => {
    const status = options.status()
    return { ...status, ring: membership.ring() }
  })
}
