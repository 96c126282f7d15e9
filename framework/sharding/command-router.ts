import { randomUUID } from 'node:crypto'
import type { CommandBus, CommandEnvelope, CommandResult } from '../command/command-bus.ts'
import { AnnalsError } from '../errors.ts'
import type { WireCommand } from './command-wire.ts'
import { createForwardBatcher } from './forward-batcher.ts'
import { NotOwnerError, type EntityHost, type HostedCommand } from './entity-host.ts'
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
  /** At most this many commands go to one owner in one request (default 64). */
  readonly maxBatch?: number
  /** At most this many requests are in flight to one owner; commands issued meanwhile go in the next. */
  readonly maxInFlightPerPeer?: number
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
 * owns the aggregate and forwards it to the owner otherwise (batched per owner); when the owner dies or the ring changes while a
 * command is in flight, it sends the command again, with the same command id, to the new owner.
 */
export function createCommandRouter(options: CommandRouterOptions): CommandRouter {
  const { self, membership, host, client } = options
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 10_000
  const routeDeadlineMs = options.routeDeadlineMs ?? 30_000
  const batcher = createForwardBatcher({
    self,
    client,
    path: `${INTERNAL_PREFIX}/commands/batch`,
    timeoutMs: forwardTimeoutMs,
    onLeaving: (owner) => membership.heardFrom(owner, 'leaving'),
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    ...(options.maxInFlightPerPeer === undefined ? {} : { maxInFlight: options.maxInFlightPerPeer }),
  })
  const counts = { local: 0, forwarded: 0, received: 0, rerouted: 0 }
  let ringWaiters: (() => void)[] = []

  const ownerOf = (digest: Digest) => rendezvousOwnerOfDigest(digest, membership.ring()) ?? self
  const unsubscribe = membership.onChange(() => {
    const ring = membership.ring()
    batcher.keepOnly(ring)
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

  return {
    async execute(envelope: CommandEnvelope) {
      // An envelope that carries its command id already goes on as it is: no copy per command.
      const command = hasCommandId(envelope) ? envelope : { ...envelope, commandId: randomUUID() }
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
          return await batcher.forward(owner, command)
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
      batcher.close()
      for (const wake of ringWaiters.splice(0)) wake()
      ringWaiters = []
    },
  }
}

function hasCommandId(envelope: CommandEnvelope): envelope is HostedCommand {
  return envelope.commandId !== undefined
}
