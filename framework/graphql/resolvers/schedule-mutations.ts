import { randomUUID } from 'node:crypto'
import {
  GraphQLID,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigArgumentMap,
} from 'graphql'
import type { z } from 'zod'
import type { AnyAggregate } from '../../aggregate/define-aggregate.ts'
import { BadIdentifierError } from '../../command/check-identifier.ts'
import type { CommandEnvelope } from '../../command/command-bus.ts'
import { nameBasedUuid } from '../../command/derive-event-id.ts'
import { BadInputError } from '../../errors.ts'
import { SCHEDULED_COMMAND } from '../../schedule/scheduled-command-aggregate.ts'
import { authorizeOperation } from '../guards/authorize-operation.ts'
import { pascalCase } from '../schema/graphql-names.ts'
import { DateTimeScalar } from '../schema/graphql-scalars.ts'
import { frameworkObjectType, type TypeRegistry } from '../schema/type-registry.ts'
import type { GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'
import { authorizedInput, commandArguments, underInput } from './command-mutations.ts'

const CANCEL = 'cancelScheduledCommand'

/**
 * A `schedule<Command>` mutation per public command (`scheduleFill(id, input, at, commandId)`) and
 * `cancelScheduledCommand(scheduleId, commandId)`. Scheduling is a mutation of its own rather than an `at`
 * argument on the command's: it answers a schedule (its id, when, its status), not the command's events,
 * which do not exist yet; and authorization rules name it apart. Scheduling a command is authorized as
 * the command itself.
 */
export function scheduleMutations(
  registry: TypeRegistry,
  aggregates: readonly AnyAggregate[],
  runtime: () => GatewayRuntime,
): Record<string, GatewayField> {
  const receipt = scheduleReceiptType(registry)
  const fields: Record<string, GatewayField> = {}
  for (const aggregate of aggregates) {
    for (const [name, command] of Object.entries(aggregate.commands)) {
      if (command.internal === true) continue
      const field = `schedule${pascalCase(name)}`
      const owner = `aggregate ${aggregate.name}, command ${name} (scheduled)`
      registry.claimField('Mutation', field, owner)
      const schema = command.input as z.ZodType
      const args: GraphQLFieldConfigArgumentMap = {
        ...commandArguments(registry, aggregate, name, schema),
        at: {
          type: new GraphQLNonNull(DateTimeScalar),
          description: 'When to send it: at most five minutes past (it is sent at once) and 366 days ahead.',
        },
        commandId: {
          type: GraphQLID,
          description: 'An idempotency key: the same id twice schedules once (and names the same schedule).',
        },
      }
      fields[field] = {
        type: new GraphQLNonNull(receipt),
        args,
        description: `Schedules ${name} on a ${aggregate.name} for a time; it is sent once, then, with an id derived from this schedule.`,
        resolve: async (_root, rawArgs: Record<string, unknown>, context) => {
          const gateway = runtime()
          const input = await authorizedInput(gateway, context.principal, { name, schema, rawArgs })
          const commandId = rawArgs['commandId']
          const envelope: CommandEnvelope = {
            aggregate: SCHEDULED_COMMAND,
            command: 'schedule',
            aggregateId: scheduleIdOf(commandId),
            input: {
              target: { aggregate: aggregate.name, command: name, aggregateId: String(rawArgs['id']), input },
              at: rawArgs['at'],
            },
            ...(typeof commandId === 'string' ? { commandId } : {}),
          }
          const result = await gateway.commands.execute(envelope).catch((error: unknown) => {
            throw error instanceof BadInputError && !(error instanceof BadIdentifierError)
              ? underInput(error)
              : error
          })
          const scheduled = result.events[0]?.data as { at?: string } | undefined
          return {
            scheduleId: result.aggregateId,
            at: scheduled?.at ?? rawArgs['at'],
            status: 'pending',
            token: String(result.position),
          }
        },
      }
    }
  }
  registry.claimField('Mutation', CANCEL, 'scheduled commands')
  fields[CANCEL] = {
    type: new GraphQLNonNull(receipt),
    description: 'Cancels a scheduled command: it will never be sent (SCHEDULE_NOT_PENDING once it was).',
    args: {
      scheduleId: { type: new GraphQLNonNull(GraphQLID) },
      commandId: { type: GraphQLID, description: 'An idempotency key.' },
    },
    resolve: async (_root, rawArgs: Record<string, unknown>, context) => {
      const gateway = runtime()
      await authorizeOperation(gateway.authorization, context.principal, {
        kind: 'command',
        name: CANCEL,
        args: rawArgs,
      })
      const commandId = rawArgs['commandId']
      const result = await gateway.commands.execute({
        aggregate: SCHEDULED_COMMAND,
        command: 'cancel',
        aggregateId: String(rawArgs['scheduleId']),
        input: {},
        ...(typeof commandId === 'string' ? { commandId } : {}),
      })
      return { scheduleId: result.aggregateId, at: null, status: 'cancelled', token: String(result.position) }
    },
  }
  return fields
}

/** A client's idempotency key names its schedule, so a retried mutation finds the same one. */
function scheduleIdOf(commandId: unknown): string {
  return typeof commandId === 'string' ? nameBasedUuid(`annals-schedule/${commandId}`) : randomUUID()
}

function scheduleReceiptType(registry: TypeRegistry): GraphQLObjectType {
  return frameworkObjectType(registry, {
    name: 'ScheduledCommand',
    key: scheduleReceiptType,
    owner: 'scheduled commands (their receipt)',
    description: 'A command scheduled for a time.',
    fields: {
      scheduleId: {
        type: new GraphQLNonNull(GraphQLID),
        description: 'What cancelScheduledCommand names.',
      },
      at: { type: DateTimeScalar, description: 'When it is due (absent on a cancel).' },
      status: { type: new GraphQLNonNull(GraphQLString), description: '`pending` or `cancelled`.' },
      token: {
        type: new GraphQLNonNull(GraphQLString),
        description: 'Pass as `consistentWith` to read your own write.',
      },
    },
  })
}
