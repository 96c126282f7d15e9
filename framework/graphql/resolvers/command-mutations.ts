import { context as contexts } from '@opentelemetry/api'
import {
  GraphQLID,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLFieldConfigArgumentMap,
} from 'graphql'
import { z } from 'zod'
import type { AnyAggregate } from '../../aggregate/define-aggregate.ts'
import { BadIdentifierError } from '../../command/check-identifier.ts'
import type { CommandResult } from '../../command/command-bus.ts'
import { BadInputError } from '../../errors.ts'
import { aggregateEventType, type EventFrame } from '../schema/aggregate-event-type.ts'
import { authorizeOperation, type Principal } from '../guards/authorize-operation.ts'
import { fromGraphQLInput } from './from-graphql-input.ts'
import type { GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'
import { pascalCase } from '../schema/graphql-names.ts'
import { defOf, inspectZod } from '../schema/inspect-zod.ts'
import { frameworkObjectType, type TypeRegistry } from '../schema/type-registry.ts'
import { zodInputType } from '../schema/zod-input-type.ts'

/**
 * One mutation per public command (none for an `internal` one), named after it: `installBattery(id: ID!, input: InstallBatteryInput!,
 * commandId: ID): BatteryCommandResult!` (no `input` when the command takes no fields).
 */
export function commandMutations(
  registry: TypeRegistry,
  aggregate: AnyAggregate,
  runtime: () => GatewayRuntime,
): Record<string, GatewayField> {
  const resultType = commandResultType(registry, aggregate)
  const fields: Record<string, GatewayField> = {}
  for (const [name, command] of Object.entries(aggregate.commands)) {
    if (command.internal === true) continue
    registry.claimField('Mutation', name, `aggregate ${aggregate.name}, command ${name}`)
    const schema = command.input as z.ZodType
    const args: GraphQLFieldConfigArgumentMap = {
      ...commandArguments(registry, aggregate, name, schema),
      commandId: { type: GraphQLID, description: 'An idempotency key: the same id twice appends once.' },
    }
    fields[name] = {
      type: new GraphQLNonNull(resultType),
      args,
      ...(command.description === undefined ? {} : { description: command.description }),
      resolve: async (_root, rawArgs: Record<string, unknown>, context) => {
        const gateway = runtime()
        const input = await authorizedInput(gateway, context.principal, { name, schema, rawArgs })
        const commandId = rawArgs['commandId']
        // The bus validates the input, once; here its issues are placed under the mutation's `input` argument.
        const envelope = {
          aggregate: aggregate.name,
          command: name,
          aggregateId: String(rawArgs['id']),
          input,
          ...(typeof commandId === 'string' ? { commandId } : {}),
        }
        // The command runs in the operation's span, when one is traced.
        const traced = context.trace?.context
        const result = await (
          traced === undefined
            ? gateway.commands.execute(envelope)
            : contexts.with(traced, () => gateway.commands.execute(envelope))
        ).catch((error: unknown) => {
          // An id's issue is already at its own argument (`id`, `commandId`).
          throw error instanceof BadInputError && !(error instanceof BadIdentifierError)
            ? underInput(error)
            : error
        })
        return toResultFrame(result)
      },
    }
  }
  return fields
}

function commandResultType(registry: TypeRegistry, aggregate: AnyAggregate): GraphQLObjectType {
  const events = aggregateEventType(registry, aggregate)
  return frameworkObjectType(registry, {
    name: `${aggregate.name}CommandResult`,
    key: aggregate,
    owner: `aggregate ${aggregate.name} (its command result)`,
    description: `What a command to ${aggregate.name} did.`,
    fields: {
      aggregateId: { type: new GraphQLNonNull(GraphQLID) },
      revision: {
        type: new GraphQLNonNull(GraphQLString),
        description: 'The revision after the command.',
      },
      events: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(events))) },
      token: {
        type: new GraphQLNonNull(GraphQLString),
        description: 'Pass as `consistentWith` to read your own write.',
      },
    },
  })
}

function toResultFrame(result: CommandResult) {
  const events: EventFrame[] = result.events.map((event) => ({
    type: event.type,
    revision: String(event.revision),
    position: String(event.position),
    data: event.data,
  }))
  return {
    aggregateId: result.aggregateId,
    revision: String(result.revision),
    events,
    token: String(result.position),
  }
}

/** The arguments a mutation for a command starts with: the aggregate's id, and the input when it takes fields. */
export function commandArguments(
  registry: TypeRegistry,
  aggregate: AnyAggregate,
  name: string,
  schema: z.ZodType,
): GraphQLFieldConfigArgumentMap {
  const owner = `aggregate ${aggregate.name}, command ${name}`
  return {
    id: { type: new GraphQLNonNull(GraphQLID), description: `The ${aggregate.name} the command is for.` },
    ...(hasFields(schema)
      ? { input: { type: zodInputType(registry, schema, { name: pascalCase(name), owner }) } }
      : {}),
  }
}

/** Authorizes a mutation as the command `name`, then reads the command's input from its arguments. */
export async function authorizedInput(
  gateway: GatewayRuntime,
  principal: Principal | undefined,
  command: { readonly name: string; readonly schema: z.ZodType; readonly rawArgs: Record<string, unknown> },
): Promise<unknown> {
  const { name, schema, rawArgs } = command
  await authorizeOperation(gateway.authorization, principal, { kind: 'command', name, args: rawArgs })
  return hasFields(schema) ? fromGraphQLInput(schema, rawArgs['input'], ['input']) : {}
}

/** A command's input issues, placed under the mutation's `input` argument. */
export function underInput(error: BadInputError): BadInputError {
  const issues = error.issues.map((issue) => ({ ...issue, path: ['input', ...issue.path] }))
  return new BadInputError(error.message, issues)
}

/** Whether a command takes fields (a mutation without them has no `input` argument). */
export function hasFields(schema: z.ZodType): boolean {
  const { base } = inspectZod(schema, 'input')
  if (defOf(base).type !== 'object') return true
  return Object.keys((base as z.ZodObject).shape).length > 0
}
