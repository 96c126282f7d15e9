import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { AnnalsError, ConcurrencyConflictError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { CommandBus, CommandEnvelope, CommandResult } from './command-bus.ts'
import { executeCommand } from './execute-command.ts'
import { parseCommandInput } from './parse-command-input.ts'

export interface CommandBusOptions {
  readonly store: EventStore
  readonly aggregates: readonly AnyAggregate[]
  /** How many times a command is decided before a conflict is given up as CONCURRENCY_CONFLICT. Default 8. */
  readonly maxAttempts?: number
  /** The first back-off after a conflict, doubled each attempt and jittered. Default 2 ms. */
  readonly backoffMs?: number
  /** The longest back-off. Default 250 ms. */
  readonly maxBackoffMs?: number
  /** The decision time; defaults to the system clock. */
  readonly now?: () => Date
}

/**
 * Creates the local command bus: routes a command to its aggregate by name, loads the instance, decides and
 * appends; on a concurrency conflict it reloads and decides again, with jittered back-off, a bounded number
 * of times. The same command id sent twice appends once and gets the same result.
 *
 * @example
 * const bus = createCommandBus({ store, aggregates: [Battery] })
 * await bus.execute({ aggregate: 'Battery', command: 'install', aggregateId: 'b-1', input: { capacityKwh: 13.5 } })
 */
export function createCommandBus(options: CommandBusOptions): CommandBus {
  const { store } = options
  const maxAttempts = options.maxAttempts ?? 8
  const backoffMs = options.backoffMs ?? 2
  const maxBackoffMs = options.maxBackoffMs ?? 250
  const clock = options.now ?? (() => new Date())
  const aggregates = new Map<string, AnyAggregate>()
  for (const aggregate of options.aggregates) {
    if (aggregates.has(aggregate.name)) {
      throw new AnnalsError('BAD_CONFIG', `Two aggregates are named ${aggregate.name}`)
    }
    aggregates.set(aggregate.name, aggregate)
  }
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new AnnalsError('BAD_CONFIG', `maxAttempts must be a positive integer, not ${maxAttempts}`)
  }

  async function execute(envelope: CommandEnvelope): Promise<CommandResult> {
    const aggregate = aggregates.get(envelope.aggregate)
    if (!aggregate) {
      throw new AnnalsError('UNKNOWN_COMMAND', `No aggregate is named ${envelope.aggregate}`)
    }
    // Refuse bad input before reading anything.
    parseCommandInput(aggregate, envelope.command, envelope.input)
    const commandId = envelope.commandId ?? randomUUID()
    for (let attempt = 1; ; attempt++) {
      try {
        const executed = await executeCommand({
          store,
          aggregate,
          id: envelope.aggregateId,
          command: envelope.command,
          input: envelope.input,
          commandId,
          now: clock(),
        })
        return executed.result
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= maxAttempts) throw error
        const ceiling = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1))
        await delay(Math.random() * ceiling)
      }
    }
  }

  return { execute }
}
