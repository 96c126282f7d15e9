import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { CommandResult } from '../command/command-bus.ts'
import type { ClusterStatus } from './cluster.ts'
import {
  errorToWire,
  MAX_FORWARD_BATCH,
  resultToWire,
  type WireBatch,
  type WireCommand,
  type WireError,
} from './command-wire.ts'
import type { Membership, ProbeAnswer } from './membership.ts'
import { carriesSecret, NDJSON } from './peer-client.ts'

/** The prefix of the internal channel: not part of the GraphQL surface, and authenticated. */
export const INTERNAL_PREFIX = '/_annals'

const leaving: WireError = { code: 'OWNER_UNAVAILABLE', message: 'This replica is leaving', retry: true }
const streamResults = process.env['ANNALS_BATCH_STREAM'] !== '0'

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

  // One command per request: what replicas before batching send, so a rolling upgrade keeps working.
  http.post(`${INTERNAL_PREFIX}/commands`, config, async (request, reply) => {
    const command = request.body as WireCommand
    if (
      typeof command?.envelope?.aggregateId !== 'string' ||
      typeof command.envelope.commandId !== 'string'
    ) {
      return reply.code(400).send({ code: 'BAD_INPUT', message: 'A forwarded command needs an envelope' })
    }
    if (membership.isLeaving()) return reply.code(503).send(leaving)
    try {
      return resultToWire(await options.execute(command))
    } catch (error) {
      const wire = errorToWire(error)
      if (wire.body.code === 'INTERNAL') request.log.error({ err: error }, 'forwarded command failed')
      return reply.code(wire.status).send(wire.body)
    }
  })

  http.post(`${INTERNAL_PREFIX}/commands/batch`, config, (request, reply) => {
    const batch = request.body as WireBatch | undefined
    if (
      typeof batch?.from !== 'string' ||
      !Array.isArray(batch.commands) ||
      batch.commands.length > MAX_FORWARD_BATCH
    ) {
      const message = `A forwarded batch needs from and at most ${MAX_FORWARD_BATCH} commands`
      return reply.code(400).send({ code: 'BAD_INPUT', message })
    }
    if (membership.isLeaving()) return reply.code(503).send(leaving)
    void reply.hijack()
    answerBatch(
      reply.raw,
      batch,
      (command) => options.execute(command),
      (error) => {
        request.log.error({ err: error }, 'forwarded command failed')
      },
    )
    return reply
  })

  http.get(`${INTERNAL_PREFIX}/ring`, config, () => {
    const status = options.status()
    return { ...status, ring: membership.ring() }
  })
}

/**
 * Runs every command of a batch on its own (each in its aggregate's mailbox, in batch order) and answers
 * each one's result or error as a line of JSON as soon as it is known, the lines of one turn in one write.
 */
function answerBatch(
  res: ServerResponse,
  batch: WireBatch,
  execute: (command: WireCommand) => Promise<CommandResult>,
  onInternal: (error: unknown) => void,
): void {
  res.on('error', () => undefined)
  res.writeHead(200, { 'content-type': NDJSON })
  let open = batch.commands.length
  let corked = false
  const buffered: string[] = []
  const write = (line: string) => {
    open--
    if (!streamResults) {
      buffered.push(line)
      if (open === 0 && !res.destroyed) res.end(buffered.join(''))
      return
    }
    if (res.destroyed) return
    if (!corked) {
      corked = true
      res.cork()
      process.nextTick(() => {
        corked = false
        res.uncork()
      })
    }
    if (open === 0) res.end(line)
    else res.write(line)
  }
  if (open === 0) return void res.end()
  batch.commands.forEach((envelope, i) => {
    if (typeof envelope?.aggregateId !== 'string' || typeof envelope.commandId !== 'string') {
      const error: WireError = { code: 'BAD_INPUT', message: 'A forwarded command needs an envelope' }
      return write(`${JSON.stringify({ i, error })}\n`)
    }
    execute({ envelope, from: batch.from }).then(
      (result) => write(`{"i":${i},"ok":${JSON.stringify(resultToWire(result))}}\n`),
      (error: unknown) => {
        const wire = errorToWire(error)
        if (wire.body.code === 'INTERNAL') onInternal(error)
        write(`{"i":${i},"error":${JSON.stringify(wire.body)}}\n`)
      },
    )
  })
}
