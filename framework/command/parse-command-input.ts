import type { z } from 'zod'
import type { AnyAggregate, CommandDefinition, EventMap } from '../aggregate/define-aggregate.ts'
import { AnnalsError, BadInputError } from '../errors.ts'

/**
 * Finds a command of an aggregate and validates its input with the command's zod schema: UNKNOWN_COMMAND
 * for a name the aggregate does not declare, BAD_INPUT with the zod issues for input that does not fit.
 */
export function parseCommandInput(
  aggregate: AnyAggregate,
  command: string,
  input: unknown,
): { definition: CommandDefinition<unknown, EventMap, z.ZodType>; input: unknown } {
  const commands = aggregate.commands as Record<string, CommandDefinition<unknown, EventMap, z.ZodType>>
  const definition = Object.hasOwn(commands, command) ? commands[command] : undefined
  if (!definition) {
    throw new AnnalsError('UNKNOWN_COMMAND', `Aggregate ${aggregate.name} declares no command "${command}"`)
  }
  const parsed = definition.input.safeParse(input)
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new BadInputError(`Invalid input for ${aggregate.name}.${command}: ${where}`, parsed.error.issues)
  }
  return { definition, input: parsed.data }
}
