import { randomUUID } from 'node:crypto'
import type { CommandBus, CommandEnvelope, CommandResult } from '../command/command-bus.ts'
import { AnnalsError } from '../errors.ts'
import type { WireCommand } from './command-wire.ts'
import { createForwardBatcher } from './forward-batcher.ts'
import { NotOwnerError, type EntityHost, type HostedCommand, type Ownership } from './entity-host.ts'
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

  const digestOf = (command: HostedCommand) => digest64(aggregateKey(command.aggregate, command.aggregateId))
  // Asked by the host after a conflict; the digest is computed again then rather than kept per command.
  const checked: Ownership = { stillOwns: (command) => ownerOf(digestOf(command)) === self }
  // The path of a command run here first: the host hands it back when its aggregate moved meanwhile.
  const firstHere: Ownership = {
    stillOwns: checked.stillOwns,
    handOff: (command, error) => route(command, digestOf(command), { owner: self, error, attempt: 0 }),
  }

  /** After a failure to run the command at `owner`: counts it, gives up past the deadline, waits for the ring. */
  async function afterFailure(digest: Digest, failed: Failure, deadline: number) {
    const { owner, error, attempt } = failed
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

  /** Runs the command at its owner, here or forwarded, until one answers; `failed` when a first try failed. */
  async function route(command: HostedCommand, digest: Digest, failed?: Failure): Promise<CommandResult> {
    const deadline = Date.now() + routeDeadlineMs
    if (failed) await afterFailure(digest, failed, deadline)
    for (let attempt = failed ? 1 : 0; ; attempt++) {
      const owner = ownerOf(digest)
      try {
        if (owner === self) {
          counts.local++
          return await host.execute(command, checked)
        }
        // Bad input is refused here rather than after a hop; locally the pipeline validates anyway.
        if (attempt === 0) options.validate?.(command)
        counts.forwarded++
        return await batcher.forward(owner, command)
      } catch (error) {
        const movable = error instanceof PeerUnreachableError || error instanceof NotOwnerError
        if (!movable) throw error
        await afterFailure(digest, { owner, error, attempt }, deadline)
      }
    }
  }

  return {
    execute(envelope: CommandEnvelope) {
      // An envelope that carries its command id already goes on as it is: no copy per command.
      const command = hasCommandId(envelope) ? envelope : { ...envelope, commandId: randomUUID() }
      const digest = digest64(aggregateKey(command.aggregate, command.aggregateId))
      // The common case without a wrapper promise: the host answers, or hands the command back to route().
      if (ownerOf(digest) !== self) return route(command, digest)
      counts.local++
      return host.execute(command, firstHere)
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

/** A try that failed at `owner`, to be counted before the next. */
interface Failure {
  readonly owner: string
  readonly error: unknown
  readonly attempt: number
}

function hasCommandId(envelope: CommandEnvelope): envelope is HostedCommand {
  return envelope.commandId !== undefined
}
