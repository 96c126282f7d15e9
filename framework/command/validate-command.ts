import type { Context } from '@opentelemetry/api'
import { z } from 'zod'
import type { AnyAggregate, CommandDefinition, EventMap } from '../aggregate/define-aggregate.ts'
import { AnnalsError, BadInputError } from '../errors.ts'
import { checkIdentifier } from './check-identifier.ts'
import { checkInputStrings, defaultMaxStringLength } from './check-input-strings.ts'
import type { CommandEnvelope } from './command-bus.ts'

/** A command's declaration, whatever its aggregate's types. */
export type AnyCommandDefinition = CommandDefinition<unknown, EventMap, z.ZodType>

/** A command that passed validation: its aggregate and declaration found, its input parsed. */
export interface ValidCommand {
  readonly aggregate: AnyAggregate
  /** The command's name, as declared. */
  readonly command: string
  readonly definition: AnyCommandDefinition
  readonly aggregateId: string
  readonly commandId: string
  /** The input as the command's schema parsed it: what decide receives. */
  readonly input: unknown
  /** The input as it was sent, for a replica that hands the command to another process to parse. */
  readonly rawInput: unknown
  /** The trace context of the command's span, when one is traced: its events and append link to it. */
  readonly trace?: Context
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

export interface ValidateOptions {
  /** The longest string an input field takes unless its schema declares `.max(n)`. Default 10,000. */
  readonly maxStringLength?: number
}

/**
 * Validates a command once, where it enters the bus: the aggregate and command exist, the aggregate id and
 * command id can name a stream (checkIdentifier), no input string is longer than its bound
 * (checkInputStrings), and the input fits the command's schema (BAD_INPUT with zod's issues otherwise).
 * Synchronous unless the schema has an async refinement; then the promise of the same.
 */
export function validateCommand(
  aggregates: ReadonlyMap<string, AnyAggregate>,
  envelope: CommandEnvelope,
  commandId: string,
  options: ValidateOptions = {},
): ValidCommand | Promise<ValidCommand> {
  const aggregate = aggregates.get(envelope.aggregate)
  if (aggregate === undefined) {
    throw new AnnalsError('UNKNOWN_COMMAND', `No aggregate is named "${envelope.aggregate}"`)
  }
  const { command, aggregateId, input } = envelope
  const definition = commandDefinition(aggregate, command)
  checkIdentifier(aggregateId, 'id')
  checkIdentifier(commandId, 'commandId')
  checkInputStrings(definition.input, input, options.maxStringLength ?? defaultMaxStringLength)
  const valid = { aggregate, command, definition, aggregateId, commandId, input, rawInput: input }
  if (!isAsync(definition.input)) {
    try {
      valid.input = parseCommandInput(aggregate, command, definition.input, input)
      return valid
    } catch (error) {
      // The first parse of a schema with an async refinement finds it out; it is parsed asynchronously below.
      if (!isAsync(definition.input)) throw error
    }
  }
  return parseAsync(aggregate, command, definition.input, input).then((parsed) => ({
    ...valid,
    input: parsed,
  }))
}

/** Schemas found to hold an async refinement: parsed asynchronously from then on, never twice. */
const asyncSchemas = new WeakSet<z.ZodType>()

/** Whether the schema needs an asynchronous parse, as far as parsing it has shown. */
export function isAsync(schema: z.ZodType): boolean {
  return asyncSchemas.has(schema)
}

/**
 * Parses a command's input with a synchronous schema: the parsed value, or BAD_INPUT. On a schema with an async
 * refinement it throws zod's $ZodAsyncError, and isAsync says so from then on: the caller uses parseAsync.
 */
export function parseCommandInput(
  aggregate: AnyAggregate,
  command: string,
  schema: z.ZodType,
  input: unknown,
): unknown {
  let result: z.ZodSafeParseResult<unknown>
  try {
    result = schema.safeParse(input)
  } catch (error) {
    if (error instanceof z.core.$ZodAsyncError) asyncSchemas.add(schema)
    throw error
  }
  if (!result.success) throw badInput(aggregate, command, result.error)
  return result.data
}

/** Parses a command's input with its schema, async refinements included: the parsed value, or BAD_INPUT. */
export async function parseAsync(
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
