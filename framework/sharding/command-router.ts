import { randomUUID } from 'node:crypto'
import type { CommandBus, CommandEnvelope, CommandResult } from '../command/command-bus.ts'
import { AnnalsError } from '../errors.ts'
import {
  errorFromWire,
  resultFromWire,
  type WireCommand,
  type WireError,
  type WireResult,
} from './command-wire.ts'
import { NotOwnerError, type EntityHost } from './entity-host.ts'
import { INTERNAL_PREFIX } from './internal-routes.ts'
import type { Membership } from './membership.ts'
import { PeerUnreachableError, type PeerClient } from './peer-client.ts'
import { aggregateKey, digest64, rendezvousOwnerOfDigest, type Digest } from './rendezvous-hash.ts'

export interface CommandRouterOptions {
  readonly self: string
  readonly membership: Membership
  readonly host: EntityHost
  readonly client: PeerClient
  /** How long one forwarded command may take before the owner counts as unreachable. */
  readonly forwardTimeoutMs?: number
  /** How long a command keeps looking for a reachable owner before OWNER_UNAVAILABLE. */
  readonly routeDeadlineMs?: number
  /** Refuses an unknown command or bad input before any hop (throws UNKNOWN_COMMAND or BAD_INPUT). */
  readonly validate?: (envelope: CommandEnvelope) => void
}

export interface CommandRouter extends CommandBus {
  /** Runs a command another replica forwarded here, without forwarding it again (no loops). */
  executeForwarded(command: WireCommand): Promise<CommandResult>
  /** Whether this replica owns the key now (aggregates and reactor partitions alike). */
  owns(key: string): boolean
  counts(): { local: number; forwarded: number; received: number; rerouted: number }
  close(): void
}

/**
 * Creates the router: the CommandBus the gateway uses. It runs a command on this replica when this replica
 * owns the aggregate and forwards it to the owner otherwise; when the owner dies or the ring changes while a
 * command is in flight, it sends the command again, with the same command id, to the new owner.
 */
export function createCommandRouter(options: CommandRouterOptions): CommandRouter {
  const { self, membership, host, client } = options
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 10_000
  const routeDeadlineMs = options.routeDeadlineMs ?? 30_000
  const inFlight = new Set<{ owner: string; controller: AbortController }>()
  const counts = { local: 0, forwarded: 0, received: 0, rerouted: 0 }
  let ringWaiters: (() => void)[] = []

  const ownerOf = (digest: Digest) => rendezvousOwnerOfDigest(digest, membership.ring()) ?? self
  const unsubscribe = membership.onChange(() => {
    const ring = membership.ring()
    for (const forward of inFlight) if (!ring.includes(forward.owner)) forward.controller.abort()
    for (const wake of ringWaiters.splice(0)) wake()
  })
  const ringChangeOrTimeout = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      ringWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })

  const forward = async (owner: string, command: WireCommand) => {
    const forwardEntry = { owner, controller: new AbortController() }
    inFlight.add(forwardEntry)
    try {
      const reply = await client.post(owner, `${INTERNAL_PREFIX}/commands`, command, {
        timeoutMs: forwardTimeoutMs,
        signal: forwardEntry.controller.signal,
      })
      if (reply.status === 200) return resultFromWire(reply.body as WireResult)
      const wire = reply.body as WireError | undefined
      if (wire?.retry === true) {
        membership.heardFrom(owner, 'leaving')
        throw new PeerUnreachableError(owner, 'it is leaving')
      }
      if (wire === undefined || typeof wire.code !== 'string') {
        throw new PeerUnreachableError(owner, `answered ${reply.status} without an error body`)
      }
      throw errorFromWire(wire)
    } finally {
      inFlight.delete(forwardEntry)
    }
  }

  return {
    async execute(envelope: CommandEnvelope) {
      const command = { ...envelope, commandId: envelope.commandId ?? randomUUID() }
      const digest = digest64(aggregateKey(command.aggregate, command.aggregateId))
      const deadline = Date.now() + routeDeadlineMs
      for (let attempt = 0; ; attempt++) {
        const owner = ownerOf(digest)
        try {
          if (owner === self) {
            counts.local++
            return await host.execute(command, () => ownerOf(digest) === self)
          }
          // Bad input is refused here rather than after a hop; locally the pipeline validates anyway.
          if (attempt === 0) options.validate?.(command)
          counts.forwarded++
          return await forward(owner, { envelope: command, from: self })
        } catch (error) {
          const movable = error instanceof PeerUnreachableError || error instanceof NotOwnerError
          if (!movable) throw error
          if (error instanceof PeerUnreachableError) membership.reportUnreachable(owner)
          counts.rerouted++
          if (Date.now() >= deadline) {
            throw new AnnalsError(
              'OWNER_UNAVAILABLE',
              `No replica could run the command within ${routeDeadlineMs} ms`,
              {
                cause: error,
              },
            )
          }
          if (ownerOf(digest) === owner) await ringChangeOrTimeout(Math.min(50 * 2 ** attempt, 1000))
        }
      }
    },
    executeForwarded(command) {
      counts.received++
      return host.execute(command.envelope)
    },
    owns: (key) => ownerOf(digest64(key)) === self,
    counts: () => ({ ...counts }),
    close() {
      unsubscribe()
      for (const forwardEntry of inFlight) forwardEntry.controller.abort()
      for (const wake of ringWaiters.splice(0)) wake()
      ringWaiters = []
    },
  }
}
