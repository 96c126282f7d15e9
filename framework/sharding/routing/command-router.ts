import { context as contexts, SpanKind } from '@opentelemetry/api'
import type { CommandBus, CommandEnvelope, CommandResult } from '../../command/command-bus.ts'
import type { LocalCommandBus } from '../../command/create-command-bus.ts'
import type { Ownership } from '../../command/entity-host.ts'
import { NotOwnerError } from '../../command/not-owner-error.ts'
import type { ValidCommand } from '../../command/validate-command.ts'
import { AnnalsError } from '../../errors.ts'
import { traceCommand } from '../../command/trace-command.ts'
import { traceForward } from './trace-forward.ts'
import type { WireCommand } from '../wire/command-wire.ts'
import { createForwardBatcher } from './forward-batcher.ts'
import { contextFromTraceparent } from '../../tracing/traceparent.ts'
import { INTERNAL_PREFIX } from '../wire/internal-routes.ts'
import type { Membership } from '../membership/membership.ts'
import { PeerUnreachableError, type PeerClient } from '../wire/peer-client.ts'
import { aggregateKey, digest64, rendezvousOwnerOfDigest, type Digest } from './rendezvous-hash.ts'
import { retryDelay } from '../../retry.ts'

export interface CommandRouterOptions {
  readonly self: string
  readonly membership: Membership
  /** This replica's pipeline: validates every command where it enters, runs those this replica owns. */
  readonly local: LocalCommandBus
  readonly client: PeerClient
  /** How long one forwarded command may take before the owner counts as unreachable. */
  readonly forwardTimeoutMs?: number
  /** How long a command keeps looking for a reachable owner before OWNER_UNAVAILABLE. */
  readonly routeDeadlineMs?: number
  /** At most this many commands go to one owner in one request (default 64). */
  readonly maxBatch?: number
  /** At most this many requests are in flight to one owner; commands issued meanwhile go in the next. */
  readonly maxInFlightPerPeer?: number
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
  const { self, membership, local, client } = options
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

  const digestOf = (command: ValidCommand) =>
    digest64(aggregateKey(command.aggregate.name, command.aggregateId))
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
    if (ownerOf(digest) === owner)
      await ringChangeOrTimeout(retryDelay({ initialDelayMs: 50, maxDelayMs: 1000 }, attempt + 1))
  }

  /** Runs the command at its owner, here or forwarded, until one answers; `failed` when a first try failed. */
  async function route(command: ValidCommand, digest: Digest, failed?: Failure): Promise<CommandResult> {
    const deadline = Date.now() + routeDeadlineMs
    if (failed) await afterFailure(digest, failed, deadline)
    for (let attempt = failed ? 1 : 0; ; attempt++) {
      const owner = ownerOf(digest)
      try {
        if (owner === self) {
          counts.local++
          return await local.run(command, checked)
        }
        // The raw input crosses the wire: parsed values (dates, transforms) do not survive JSON, so the owner
        // parses it again, as any process must parse what another sends it.
        counts.forwarded++
        // The owner takes the command id as a caller's (it arrives in the envelope): if the command comes back
        // here after a forward whose outcome is unknown, it runs the same way, with the same event ids, and the
        // id is looked up first, so an append the owner made before it died is answered, not made twice.
        if (command.idGenerated === true) command = { ...command, idGenerated: false }
        return await traceForward(command, owner, (traceparent) =>
          batcher.forward(owner, envelopeOf(command, traceparent)),
        )
      } catch (error) {
        const movable = error instanceof PeerUnreachableError || error instanceof NotOwnerError
        if (!movable) throw error
        await afterFailure(digest, { owner, error, attempt }, deadline)
      }
    }
  }

  /** The common case without a wrapper promise: the host answers, or hands the command back to route(). */
  function dispatch(command: ValidCommand): Promise<CommandResult> {
    const digest = digestOf(command)
    if (ownerOf(digest) !== self) return route(command, digest)
    counts.local++
    return local.run(command, firstHere)
  }

  return {
    execute(envelope: CommandEnvelope) {
      // Bad input is refused where the command enters, before any hop.
      let valid: ValidCommand | Promise<ValidCommand>
      try {
        valid = local.validate(envelope)
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
      const traced = (command: ValidCommand) => traceCommand(command, contexts.active(), dispatch)
      return valid instanceof Promise ? valid.then(traced) : traced(valid)
    },
    executeForwarded(command) {
      counts.received++
      const { traceparent, ...envelope } = command.envelope
      if (traceparent === undefined) return local.execute(envelope)
      const parent = contextFromTraceparent(traceparent)
      return local.execute(envelope, parent, { kind: SpanKind.SERVER, forwardedFrom: command.from })
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

/** The command as it was sent, raw input and all, for the owner to parse, with its trace context. */
function envelopeOf(command: ValidCommand, traceparent: string | undefined): WireCommand['envelope'] {
  const { aggregate, command: name, aggregateId, rawInput: input, commandId } = command
  const envelope = { aggregate: aggregate.name, command: name, aggregateId, input, commandId }
  return traceparent === undefined ? envelope : { ...envelope, traceparent }
}
