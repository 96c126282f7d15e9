import {
  assertValidSchema,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  type GraphQLNamedType,
} from 'graphql'
import { AnnalsError } from '../../errors.ts'
import { aggregateEventSubscription } from '../resolvers/aggregate-event-subscription.ts'
import { commandMutations } from '../resolvers/command-mutations.ts'
import type { GatewayDefinition, GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'
import { scheduleMutations } from '../resolvers/schedule-mutations.ts'
import { workflowQueries } from '../resolvers/workflow-queries.ts'
import { readModelQueries } from '../resolvers/read-model-queries.ts'
import { readModelSubscriptions } from '../resolvers/read-model-subscriptions.ts'
import { readModelTypes } from './read-model-types.ts'
import { createTypeRegistry } from './type-registry.ts'

type Fields = Record<string, GatewayField>

/**
 * The GraphQL schema of an application: a mutation per command, two queries and two subscriptions per read
 * model, an event feed per aggregate. Name collisions stop it with a message naming both definitions.
 * Without a runtime (as `annals schema` builds it) the resolvers refuse to run.
 *
 * @example
 * const schema = buildGatewaySchema({ aggregates: [Battery], sources: readSide.sources }, runtime)
 */
export function buildGatewaySchema(definition: GatewayDefinition, runtime?: GatewayRuntime): GraphQLSchema {
  const registry = createTypeRegistry()
  const getRuntime = () => {
    if (!runtime)
      throw new AnnalsError('INTERNAL', 'This schema was built without a runtime and cannot execute')
    return runtime
  }
  const mutations: Fields = {}
  const queries: Fields = {}
  const subscriptions: Fields = {}
  const aggregateNames = new Set<string>()
  for (const aggregate of definition.aggregates) {
    if (aggregateNames.has(aggregate.name)) {
      throw new AnnalsError('BAD_CONFIG', `Two aggregates are named ${aggregate.name}`)
    }
    aggregateNames.add(aggregate.name)
    Object.assign(mutations, commandMutations(registry, aggregate, getRuntime))
    Object.assign(subscriptions, aggregateEventSubscription(registry, aggregate, getRuntime))
  }
  if (definition.scheduledCommands === true) {
    Object.assign(mutations, scheduleMutations(registry, definition.aggregates, getRuntime))
  }
  for (const source of definition.sources) {
    const types = readModelTypes(registry, source)
    Object.assign(queries, readModelQueries(registry, source, types, getRuntime))
    Object.assign(subscriptions, readModelSubscriptions(registry, source, types, getRuntime))
  }
  for (const workflow of definition.workflows ?? []) {
    Object.assign(queries, workflowQueries(registry, workflow, getRuntime))
  }
  if (Object.keys(queries).length === 0) {
    queries['annalsVersion'] = {
      type: GraphQLString,
      description: 'No read model is declared yet.',
      resolve: () => '1',
    }
  }
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: queries }),
    ...(Object.keys(mutations).length > 0
      ? { mutation: new GraphQLObjectType({ name: 'Mutation', fields: mutations }) }
      : {}),
    ...(Object.keys(subscriptions).length > 0
      ? { subscription: new GraphQLObjectType({ name: 'Subscription', fields: subscriptions }) }
      : {}),
    types: registry.types() as GraphQLNamedType[],
  })
  // Checking now surfaces problems hidden in field thunks at start-up rather than on the first request.
  assertValidSchema(schema)
  return schema
}
