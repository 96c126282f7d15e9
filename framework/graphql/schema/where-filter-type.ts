import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLInputObjectType,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  GraphQLString,
  type GraphQLInputFieldConfig,
  type GraphQLInputType,
  type GraphQLLeafType,
} from 'graphql'
import type { z } from 'zod'
import { DateTimeScalar } from './graphql-scalars.ts'
import { inspectZod } from './inspect-zod.ts'
import type { TypeRegistry } from './type-registry.ts'
import { fieldSite, zodLeafType, type SchemaSite } from './zod-leaf-type.ts'

const EQUALITY = ['eq', 'ne', 'in'] as const
const ORDERED = [...EQUALITY, 'gt', 'gte', 'lt', 'lte'] as const
const frameworkKeys = new Map<string, object>()

/**
 * The typed `where` input of a read model, one filter per leaf field of its row: strings take
 * eq/ne/in/contains, numbers and dates eq/ne/in/gt/gte/lt/lte, booleans eq/ne, enums eq/ne/in. Fields that
 * are objects, lists or JSON are not filterable. Undefined when no field is.
 */
export function whereFilterType(
  registry: TypeRegistry,
  shape: Readonly<Record<string, z.ZodType>>,
  site: SchemaSite,
): GraphQLInputObjectType | undefined {
  const fields: Record<string, GraphQLInputFieldConfig> = {}
  for (const [field, schema] of Object.entries(shape)) {
    const leaf = filterableLeaf(registry, schema, fieldSite(site, field))
    if (leaf) fields[field] = { type: filterType(registry, leaf) }
  }
  if (Object.keys(fields).length === 0) return undefined
  return registry.named({
    name: `${site.name}Where`,
    key: shape,
    role: 'input',
    owner: `${site.owner} (its where filter)`,
    build: (name) =>
      new GraphQLInputObjectType({ name, description: 'Rows must match every field given.', fields }),
  })
}

/** The leaf fields of a row that can be filtered and ordered by. */
export function filterableFields(
  registry: TypeRegistry,
  shape: Readonly<Record<string, z.ZodType>>,
  site: SchemaSite,
): string[] {
  return Object.entries(shape)
    .filter(([field, schema]) => filterableLeaf(registry, schema, fieldSite(site, field)))
    .map(([field]) => field)
}

function filterableLeaf(
  registry: TypeRegistry,
  schema: z.ZodType,
  site: SchemaSite,
): GraphQLLeafType | undefined {
  const { base } = inspectZod(schema, 'output')
  let leaf: GraphQLLeafType | undefined
  try {
    leaf = zodLeafType(registry, base, site)
  } catch {
    return undefined
  }
  if (leaf instanceof GraphQLEnumType) return leaf
  return leaf &&
    (
      [GraphQLString, GraphQLInt, GraphQLFloat, GraphQLBoolean, DateTimeScalar] as GraphQLScalarType[]
    ).includes(leaf)
    ? leaf
    : undefined
}

function filterType(registry: TypeRegistry, leaf: GraphQLLeafType): GraphQLInputObjectType {
  const operators =
    leaf === GraphQLBoolean
      ? (['eq', 'ne'] as const)
      : leaf instanceof GraphQLEnumType || leaf === GraphQLString
        ? EQUALITY
        : ORDERED
  const name = `${leaf.name}Filter`
  let key = frameworkKeys.get(name)
  if (!key) frameworkKeys.set(name, (key = { filter: name }))
  return registry.named({
    name,
    key: leaf instanceof GraphQLEnumType ? leaf : key,
    role: 'input',
    owner: `the filter of ${leaf.name} fields`,
    build: (typeName) => {
      const fields: Record<string, GraphQLInputFieldConfig> = {}
      for (const operator of operators) {
        const type: GraphQLInputType = operator === 'in' ? new GraphQLList(new GraphQLNonNull(leaf)) : leaf
        fields[operator] = { type }
      }
      if (leaf === GraphQLString) fields['contains'] = { type: GraphQLString, description: 'A substring.' }
      return new GraphQLInputObjectType({ name: typeName, fields })
    },
  })
}
