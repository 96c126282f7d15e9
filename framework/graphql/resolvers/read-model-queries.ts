import {
  GraphQLID,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
  type GraphQLFieldConfigArgumentMap,
} from 'graphql'
import { BadInputError } from '../../errors.ts'
import type {
  ListQuery,
  OrderBy,
  ReadModelSource,
  WaitForOptions,
} from '../../read-model/read-model-source.ts'
import { authorizeOperation } from '../guards/authorize-operation.ts'
import type { GatewayContext, GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'
import { camelCase } from '../schema/graphql-names.ts'
import type { ReadModelTypes } from '../schema/read-model-types.ts'
import type { TypeRegistry } from '../schema/type-registry.ts'

const consistentWith = {
  type: GraphQLString,
  description:
    'A token from a mutation: the read waits until the read model has folded every event up to it, so a ' +
    'dead letter anywhere holds it back until it is retried or discarded (a discarded event counts as settled).',
}

const rowConsistentWith = {
  type: GraphQLString,
  description:
    "A token from a mutation: the read waits until the read model has processed the log up to it and this row's " +
    'events up to it are folded in; a dead letter of another row does not hold it back. A discarded event ' +
    'counts as settled: it will never be in the row.',
}

/**
 * Two queries per read model: one row by key (`fleet(siteId: ID!)`) and a page of rows
 * (`fleetList(where, orderBy, first, after)` returning `{ nodes, pageInfo, position }`). Both take
 * `consistentWith` to read the caller's own writes.
 */
export function readModelQueries(
  registry: TypeRegistry,
  source: ReadModelSource,
  types: ReadModelTypes,
  runtime: () => GatewayRuntime,
): Record<string, GatewayField> {
  const owner = `read model ${source.name}`
  const one = camelCase(source.name)
  const list = `${one}List`
  registry.claimField('Query', one, owner)
  registry.claimField('Query', list, owner)
  const listArgs: GraphQLFieldConfigArgumentMap = {
    ...(types.where ? { where: { type: types.where } } : {}),
    ...(types.orderBy ? { orderBy: { type: new GraphQLList(new GraphQLNonNull(types.orderBy)) } } : {}),
    first: { type: GraphQLInt, description: 'The page size; capped by the server.' },
    after: { type: GraphQLString, description: 'The `endCursor` of the previous page.' },
    consistentWith,
  }
  const description = source.description === undefined ? {} : { description: source.description }
  return {
    [one]: {
      type: types.row,
      ...description,
      args: { [source.key]: { type: new GraphQLNonNull(GraphQLID) }, consistentWith: rowConsistentWith },
      resolve: async (_root, args: Record<string, unknown>, context) => {
        const key = String(args[source.key])
        // Only this row's events need be in: a dead letter of another key must not block read-your-writes here.
        const preparing = prepareRead(runtime(), source, args, context, { key })
        if (preparing) await preparing
        return (await source.get(key)) ?? null
      },
    },
    [list]: {
      type: new GraphQLNonNull(types.connection),
      ...description,
      args: listArgs,
      resolve: async (_root, args: Record<string, unknown>, context) => {
        const gateway = runtime()
        const preparing = prepareRead(gateway, source, args, context)
        if (preparing) await preparing
        const page = await source.list(toListQuery(args, gateway.maxPageSize))
        return {
          nodes: page.rows,
          pageInfo: { endCursor: page.endCursor ?? null, hasNextPage: page.hasNextPage },
          position: String(page.position),
        }
      },
    },
  }
}

/**
 * Checks the rule, then waits for `consistentWith` when given: for one row when `wait.key` names it, else
 * for every key. Returns nothing when there is neither a rule nor a token, so that the common read does not
 * wait on a promise.
 */
export function prepareRead(
  gateway: GatewayRuntime,
  source: ReadModelSource,
  args: Record<string, unknown>,
  context: GatewayContext,
  wait: WaitForOptions = {},
): Promise<void> | undefined {
  const rules = gateway.authorization
  if (rules === undefined) return awaitToken(gateway, source, args, wait)
  return authorizeOperation(rules, context.principal, { kind: 'query', name: source.name, args }).then(() =>
    awaitToken(gateway, source, args, wait),
  )
}

function awaitToken(
  gateway: GatewayRuntime,
  source: ReadModelSource,
  args: Record<string, unknown>,
  wait: WaitForOptions,
): Promise<void> | undefined {
  const token = args['consistentWith']
  if (typeof token !== 'string') return undefined
  return source.waitFor(parsePosition(token, 'consistentWith'), gateway.consistencyTimeoutMs, wait)
}

/** A position from the wire (a decimal string), or BAD_INPUT naming the argument. */
export function parsePosition(value: string, argument: string): bigint {
  if (!/^[0-9]{1,20}$/.test(value)) {
    throw new BadInputError(`${argument} must be a position (a decimal string)`, [
      { path: [argument], message: 'Expected a position such as "1024"' },
    ])
  }
  return BigInt(value)
}

export function toListQuery(args: Record<string, unknown>, maxPageSize: number): ListQuery {
  const first = typeof args['first'] === 'number' ? args['first'] : maxPageSize
  if (first < 0)
    throw new BadInputError('first must not be negative', [
      { path: ['first'], message: 'Must be at least 0' },
    ])
  const query: { -readonly [K in keyof ListQuery]: ListQuery[K] } = { first: Math.min(first, maxPageSize) }
  if (args['where']) query.where = withoutNulls(args['where'])
  if (Array.isArray(args['orderBy'])) query.orderBy = args['orderBy'] as OrderBy[]
  if (typeof args['after'] === 'string') query.after = args['after']
  return query
}

/** The `where` argument without the fields and operators a client set to null. */
export function withoutNulls(where: unknown): NonNullable<ListQuery['where']> {
  const result: Record<string, Record<string, unknown>> = {}
  const fields = (where ?? {}) as Record<string, unknown>
  for (const field in fields) {
    const filter = fields[field]
    if (filter === null || typeof filter !== 'object') continue
    let operators: Record<string, unknown> | undefined
    for (const operator in filter) {
      const value = (filter as Record<string, unknown>)[operator]
      if (value !== null) (operators ??= {})[operator] = value
    }
    if (operators) result[field] = operators
  }
  return result
}
