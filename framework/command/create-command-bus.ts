import { randomUUID } from 'node:crypto'
import { context as contexts, type Context } from '@opentelemetry/api'
import { LRUCache } from 'lru-cache'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { AnnalsError, CommandIdReusedError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { CommandBus, CommandEnvelope, CommandResult } from './command-bus.ts'
import { createEntityHost, type EntityHost, type Ownership } from './entity-host.ts'
import { tracingEnabled } from '../tracing/tracer.ts'
import { traceCommand, type TraceCommandOptions } from './trace-command.ts'
import { validateCommand, type ValidCommand } from './validate-command.ts'

export interface CommandBusOptions {
  readonly store: EventStore
  readonly aggregates: readonly AnyAggregate[]
  /**
   * Load every aggregate from the store for each command instead of holding it in memory (default false).
   * Holding is right for a service that is the only writer of its aggregates (one replica, or a sharded
   * cluster): no read before a write, no conflict between its own commands. Stateless handling is right when
   * other processes write the same aggregates often (several unsharded replicas, a migration running beside
   * the service): a held copy would be stale at almost every command and pay a failed append to find out.
   */
  readonly stateless?: boolean
  /** At most this many aggregates stay in memory; the least recently used idle ones go first. Default 10,000. */
  readonly maxHosted?: number
  /** An aggregate idle this long is dropped from memory. Default 5 minutes. */
  readonly passivateAfterMs?: number
  /** How often a command is decided again after someone else wrote to its stream first. Default 5. */
  readonly maxConflictRetries?: number
  /** At most this many waiting commands to one aggregate are decided together and appended at once. Default 128. */
  readonly maxGroupSize?: number
  /**
   * At most this many commands wait (queued or being decided) on this replica; beyond it a command is refused
   * at once with OVERLOADED instead of waiting behind them. Default 5,000.
   */
  readonly maxQueuedCommands?: number
  /** At most this many commands wait for one aggregate; beyond it a command to it gets OVERLOADED. Default 1,000. */
  readonly maxQueuedPerAggregate?: number
  /**
   * The command latency this replica defends, in milliseconds (default: none; createServer sets 20). Once even
   * the fastest commands wait longer, it admits only as many in flight as keep them near it and refuses the
   * rest at once with OVERLOADED: above saturation, fast refusals instead of seconds in a queue.
   */
  readonly latencyTargetMs?: number
  /**
   * How many caller-sent command ids each aggregate remembers (default 256): a command id sent again within
   * them is answered with its first result and appends nothing; beyond them it is a new command. Ids the bus
   * generated are not kept: nobody can send them again.
   */
  readonly recentCommandsKept?: number
  /**
   * How many client-given command ids this process remembers across aggregates (default 10,000), so an id
   * reused on another aggregate is refused with COMMAND_ID_REUSED instead of writing a second command.
   */
  readonly commandIdsKept?: number
  /**
   * The longest string (UTF-16 units) a command input field takes unless its zod schema declares `.max(n)`
   * for it. Default 10,000.
   */
  readonly maxStringLength?: number
  /** The decision time handed to decide; defaults to the system clock. */
  readonly now?: () => Date
}

/** The command bus of one process: what createServer runs, and what a sharded cluster runs locally. */
export interface LocalCommandBus extends CommandBus {
  /**
   * Runs a command in its span, a child of `parent` (default the active context): a forwarded command's
   * parent is the forwarding replica's span, carried in the forwarded request.
   */
  execute(envelope: CommandEnvelope, parent?: Context, tracing?: TraceCommandOptions): Promise<CommandResult>
  /** Checks that the command exists and parses its input (UNKNOWN_COMMAND, BAD_INPUT), once. */
  validate(envelope: CommandEnvelope): ValidCommand | Promise<ValidCommand>
  /** Runs a validated command in its aggregate's mailbox here; `ownership` is asked after a conflict. */
  run(command: ValidCommand, ownership?: Ownership): Promise<CommandResult>
  /** The aggregates held in memory and what their mailboxes wrote. */
  readonly host: Pick<EntityHost, 'hosted' | 'load' | 'written' | 'drop' | 'passivateIdle' | 'drain'>
  /** Stops the passivation timer and forgets every held aggregate. */
  close(): void
}

/**
 * Creates the command bus: validates a command once, then runs it in its aggregate's mailbox, where commands to
 * one aggregate are decided one after another against the state held in memory, and those that waited
 * together are appended in one write. A command id sent twice appends once and gets the same result.
 *
 * @example
 * const bus = createCommandBus({ store, aggregates: [Battery] })
 * await bus.execute({ aggregate: 'Battery', command: 'install', aggregateId: 'b-1', input: { capacityKwh: 13.5 } })
 */
export function createCommandBus(options: CommandBusOptions): LocalCommandBus {
  const aggregates = new Map<string, AnyAggregate>()
  for (const aggregate of options.aggregates) {
    if (aggregates.has(aggregate.name)) {
      throw new AnnalsError('BAD_CONFIG', `Two aggregates are named ${aggregate.name}`)
    }
    aggregates.set(aggregate.name, aggregate)
  }
  const host = createEntityHost({
    store: options.store,
    hold: options.stateless !== true,
    ...(options.maxHosted === undefined ? {} : { maxHosted: options.maxHosted }),
    ...(options.passivateAfterMs === undefined ? {} : { passivateAfterMs: options.passivateAfterMs }),
    ...(options.maxConflictRetries === undefined ? {} : { maxConflictRetries: options.maxConflictRetries }),
    ...(options.maxGroupSize === undefined ? {} : { maxGroupSize: options.maxGroupSize }),
    ...(options.recentCommandsKept === undefined ? {} : { recentCommandsKept: options.recentCommandsKept }),
    ...(options.maxQueuedCommands === undefined ? {} : { maxQueued: options.maxQueuedCommands }),
    ...(options.maxQueuedPerAggregate === undefined
      ? {}
      : { maxQueuedPerAggregate: options.maxQueuedPerAggregate }),
    ...(options.latencyTargetMs === undefined ? {} : { latencyTargetMs: options.latencyTargetMs }),
    ...(options.now === undefined ? {} : { clock: options.now }),
  })
  // Which aggregate each client-given command id went to: generated ids are new by construction.
  const commandIds = new LRUCache<string, string>({ max: options.commandIdsKept ?? 10_000 })
  const validateOptions =
    options.maxStringLength === undefined ? {} : { maxStringLength: options.maxStringLength }
  const generatedIdOptions = { ...validateOptions, generatedCommandId: true }
  const validate = (envelope: CommandEnvelope) => {
    const { commandId } = envelope
    if (commandId === undefined)
      return validateCommand(aggregates, envelope, randomUUID(), generatedIdOptions)
    const valid = validateCommand(aggregates, envelope, commandId, validateOptions)
    const target = `${envelope.aggregate}-${envelope.aggregateId}`
    const known = commandIds.get(commandId)
    if (known === undefined) commandIds.set(commandId, target)
    else if (known !== target) throw new CommandIdReusedError(commandId, `for another aggregate (${known})`)
    return valid
  }

  const execute = (command: ValidCommand) => host.execute(command)

  return {
    validate,
    run: (command, ownership) => host.execute(command, ownership),
    execute(envelope, parent, tracing) {
      let valid: ValidCommand | Promise<ValidCommand>
      try {
        valid = validate(envelope)
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
      // Without an SDK a command needs no span, so no closure is made for it.
      const run = tracingEnabled()
        ? (command: ValidCommand) =>
            traceCommand(command, parent ?? contexts.active(), (traced) => host.execute(traced), tracing)
        : execute
      // A synchronous schema costs no promise: the mailbox is reached in the caller's turn.
      return valid instanceof Promise ? valid.then(run) : run(valid)
    },
    host,
    close: () => host.close(),
  }
}
