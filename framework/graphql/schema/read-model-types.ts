import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLID,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLString,
  type GraphQLOutputType,
} from 'graphql'
import type { z } from 'zod'
import { AnnalsError } from '../../errors.ts'
import type { ReadModelSource } from '../../read-model/read-model-source.ts'
import { pascalCase } from './graphql-names.ts'
import { frameworkObjectType, type TypeRegistry } from './type-registry.ts'
import { filterableFields, whereFilterType } from './where-filter-type.ts'
import { zodOutputType } from './zod-output-type.ts'

/** The GraphQL types one read model needs for its queries and subscriptions. */
export interface ReadModelTypes {
  /** PascalCase of the read model's name: 'fleet' gives Fleet, FleetWhere, FleetConnection... */
  readonly typeName: string
  readonly row: GraphQLOutputType
  readonly where: GraphQLInputObjectType | undefined
  readonly orderBy: GraphQLInputObjectType | undefined
  readonly connection: GraphQLObjectType
  readonly change: GraphQLObjectType
}

const pageInfoKey = {}
const sortKey = {}
const changeKindKey = {}

export function readModelTypes(registry: TypeRegistry, source: ReadModelSource): ReadModelTypes {
  const typeName = pascalCase(source.name)
  const owner = `read model ${source.name}`
  const shape = source.schema.shape as Record<string, z.ZodType>
  if (!(source.key in shape)) {
    throw new AnnalsError('BAD_CONFIG', `${owner}: its key ${source.key} is not a field of its row schema`)
  }
  const nonNullRow = zodOutputType(registry, source.schema, { name: typeName, owner })
  const row = nonNullRow instanceof GraphQLNonNull ? (nonNullRow.ofType as GraphQLOutputType) : nonNullRow
  const site = { name: typeName, owner }
  const where = whereFilterType(registry, shape, site)
  const orderBy = orderByType(registry, filterableFields(registry, shape, site), site)
  const connection = frameworkObjectType(registry, {
    name: `${typeName}Connection`,
    key: source,
    owner: `${owner} (its connection)`,
    fields: {
      nodes: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(row))) },
      pageInfo: { type: new GraphQLNonNull(pageInfoType(registry)) },
      position: {
        type: new GraphQLNonNull(GraphQLString),
        description: 'The position the page was read at.',
      },
    },
  })
  const change = frameworkObjectType(registry, {
    name: `${typeName}Change`,
    key: shape,
    owner: `${owner} (its change)`,
    description: `The current state of a ${typeName} (CURRENT), or a change to it, stamped with its position.`,
    fields: {
      kind: { type: new GraphQLNonNull(changeKindType(registry)) },
      key: { type: new GraphQLNonNull(GraphQLID) },
      row: { type: row, description: 'The row now; null once deleted or when there is none.' },
      previous: { type: row, description: 'The row before an update or deletion.' },
      position: {
        type: new GraphQLNonNull(GraphQLString),
        description: 'Pass as `after` when reconnecting to resume without a gap.',
      },
    },
  })
  return { typeName, row, where, orderBy, connection, change }
}

function orderByType(
  registry: TypeRegistry,
  fields: readonly string[],
  site: { name: string; owner: string },
) {
  if (fields.length === 0) return undefined
  const fieldEnum = registry.named({
    name: `${site.name}Field`,
    key: fields,
    role: 'enum',
    owner: `${site.owner} (its orderable fields)`,
    build: (name) =>
      new GraphQLEnumType({ name, values: Object.fromEntries(fields.map((f) => [f, { value: f }])) }),
  })
  return registry.named({
    name: `${site.name}Order`,
    key: fields,
    role: 'input',
    owner: `${site.owner} (its order)`,
    build: (name) =>
      new GraphQLInputObjectType({
        name,
        fields: {
          field: { type: new GraphQLNonNull(fieldEnum) },
          direction: { type: sortDirectionType(registry), defaultValue: 'asc' },
        },
      }),
  })
}

function pageInfoType(registry: TypeRegistry): GraphQLObjectType {
  return frameworkObjectType(registry, {
    name: 'PageInfo',
    key: pageInfoKey,
    owner: 'Annals (pagination)',
    fields: {
      endCursor: { type: GraphQLString, description: 'Pass as `after` for the next page.' },
      hasNextPage: { type: new GraphQLNonNull(GraphQLBoolean) },
    },
  })
}

function sortDirectionType(registry: TypeRegistry): GraphQLEnumType {
  return registry.named({
    name: 'SortDirection',
    key: sortKey,
    role: 'framework',
    owner: 'Annals (ordering)',
    build: (name) =>
      new GraphQLEnumType({ name, values: { asc: { value: 'asc' }, desc: { value: 'desc' } } }),
  })
}

function changeKindType(registry: TypeRegistry): GraphQLEnumType {
  return registry.named({
    name: 'ChangeKind',
    key: changeKindKey,
    role: 'framework',
    owner: 'Annals (read model changes)',
    build: (name) =>
      new GraphQLEnumType({
        name,
        values: {
          CURRENT: { value: 'current' },
          CREATED: { value: 'created' },
          UPDATED: { value: 'updated' },
          DELETED: { value: 'deleted' },
        },
      }),
  })
}
