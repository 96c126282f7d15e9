import { z } from 'zod'
import type { AnyAggregate, CommandDefinition, EventMap } from '../aggregate/define-aggregate.ts'
import { AnnalsError, BadInputError } from '../errors.ts'
import type { CommandEnvelope } from './command-bus.ts'

/** A command's declaration, whatever its aggregate's types. */
export type AnyCommandDefinition = CommandDefinition<unknown, EventMap, z.ZodType>

/** A command that passed validation: its aggregate and declaration found, its input parsed. */
export interface ValidCommand {
  readonly aggregate: AnyAggregate
  readonly definition: AnyCommandDefinition
  readonly aggregateId: string
  readonly commandId: string
  /** The input as the command's schema parsed it: what decide receives. */
  readonly input: unknown
  /** The command as it was sent (raw input), for a replica that hands it to another process. */
  readonly envelope: CommandEnvelope & { readonly commandId: string }
}

/**
 * Finds a command's declaration: UNKNOWN_COMMAND for an aggregate or a command nobody declared.
 */
export function commandDefinition(aggregate: AnyAggregate, command: string): AnyCommandDefinition {
  const commands = aggregate.commands as Record<string, AnyCommandDefinition>
  const definition = Object.hasOwn(commands, command) ? commands[command] : undefined
  if (!definition) {
    throw new AnnalsError('UNKNOWN_COMMAND', `Aggregate ${aggregate.name} declares no command "${command}"`)
  }
  return definition
}

/**
 * Validates a command once, where it enters the bus: the aggregate and command exist, the input fits the
 * command's schema (BAD_INPUT with zod's issues otherwise). Synchronous unless the schema has an async
 * refinement; then the promise of the same.
 */
export function validateCommand(
  aggregates: ReadonlyMap<string, AnyAggregate>,
  envelope: CommandEnvelope & { readonly commandId: string },
): ValidCommand | Promise<ValidCommand> {
  const aggregate = aggregates.get(envelope.aggregate)
  if (aggregate === undefined) {
    throw new AnnalsError('UNKNOWN_COMMAND', `No aggregate is named "${envelope.aggregate}"`)
  }
  const definition = commandDefinition(aggregate, envelope.command)
  const valid = (input: unknown): ValidCommand => ({
    aggregate,
    definition,
    aggregateId: envelope.aggregateId,
    commandId: envelope.commandId,
    input,
    envelope,
  })
  const parsed = parseCommandInput(aggregate, envelope.command, definition.input, envelope.input)
  return parsed instanceof Promise ? parsed.then(valid) : valid(parsed.value)
}

/** Schemas found to hold an async refinement: parsed asynchronously from then on, never twice. */
const asyncSchemas = new WeakSet<z.ZodType>()

/**
 * Parses a command's input with its schema: `{ value }` at once for a synchronous schema (the common case,
 * without a promise), a promise for one with an async refinement. Throws or rejects BAD_INPUT.
 */
export function parseCommandInput(
  aggregate: AnyAggregate,
  command: string,
  schema: z.ZodType,
  input: unknown,
): { readonly value: unknown } | Promise<unknown> {
  if (!asyncSchemas.has(schema)) {
    let result: z.ZodSafeParseResult<unknown>
    try {
      result = schema.safeParse(input)
    } catch (error) {
      if (!(error instanceof z.core.$ZodAsyncError)) throw error
      asyncSchemas.add(schema)
      return parseAsync(aggregate, command, schema, input)
    }
    if (!result.success) throw badInput(aggregate, command, result.error)
    return { value: result.data }
  }
  return parseAsync(aggregate, command, schema, input)
}

async function parseAsync(
  aggregate: AnyAggregate,
  command: string,
  schema: z.ZodType,
  input: unknown,
): Promise<unknown> {
  const result = await schema.safeParseAsync(input)
  if (!result.success) throw badInput(aggregate, command, result.error)
  return result.data
}

function badInput(aggregate: AnyAggregate, command: string, error: z.ZodError): BadInputError {
  const where = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
  return new BadInputError(`Invalid input for ${aggregate.name}.${command}: ${where}`, error.issues)
}
