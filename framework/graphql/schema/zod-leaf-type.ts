import {
  GraphQLBoolean,
  GraphQLEnumType,
  GraphQLFloat,
  GraphQLInt,
  GraphQLString,
  type GraphQLLeafType,
} from 'graphql'
import { z } from 'zod'
import { AnnalsError } from '../../errors.ts'
import { enumValueName, enumValuesKeepTheirNames, isGraphQLName, pascalCase } from './graphql-names.ts'
import { declaredName, defOf, isDateTimeString, isIntegerSchema } from './inspect-zod.ts'
import { DateTimeScalar, JsonScalar } from './graphql-scalars.ts'
import type { TypeRegistry } from './type-registry.ts'

/** Where in the declarations a schema sits: the name its named types take, and who to blame in errors. */
export interface SchemaSite {
  /** The name a named type (object, enum, union) derived here takes unless `.meta({ id })` names it. */
  readonly name: string
  /** For messages, e.g. 'read model fleet, field status'. */
  readonly owner: string
}

/**
 * The scalar or enum a zod leaf maps to, or undefined for objects, arrays and unions. Integers become Int,
 * other numbers Float; dates (z.date(), z.iso.datetime()) DateTime; bigints String; records, maps, tuples
 * and unknowns JSON; literals take the scalar of their value.
 */
export function zodLeafType(
  registry: TypeRegistry,
  schema: z.ZodType,
  site: SchemaSite,
): GraphQLLeafType | undefined {
  const def = defOf(schema)
  switch (def.type) {
    case 'string':
      return isDateTimeString(schema) ? DateTimeScalar : GraphQLString
    case 'template_literal':
    case 'bigint':
      return GraphQLString
    case 'number':
      return isIntegerSchema(schema) ? GraphQLInt : GraphQLFloat
    case 'nan':
      return GraphQLFloat
    case 'boolean':
      return GraphQLBoolean
    case 'date':
      return DateTimeScalar
    case 'record':
    case 'map':
    case 'tuple':
    case 'set':
    case 'any':
    case 'unknown':
      return JsonScalar
    case 'literal':
      return literalType(def.values as readonly unknown[])
    case 'enum':
      return enumType(registry, schema, def.entries as Record<string, string | number>, site)
    case 'null':
    case 'undefined':
    case 'void':
    case 'never':
    case 'symbol':
    case 'function':
    case 'custom':
    case 'promise':
      throw unsupportedSchema(site, def.type)
    default:
      return undefined
  }
}

/**
 * The site of one field of the object at `site`: the field's own types are named after the object and the
 * field (FleetStatus for field status of Fleet), wherever the field is mapped (output, input, where filter).
 */
export function fieldSite(site: SchemaSite, field: string): SchemaSite {
  const owner = `${site.owner}, field ${field}`
  if (!isGraphQLName(field)) throw new AnnalsError('BAD_CONFIG', `${owner}: not a valid GraphQL field name`)
  return { name: site.name + pascalCase(field), owner }
}

export function unsupportedSchema(site: SchemaSite, type: string): AnnalsError {
  return new AnnalsError(
    'BAD_CONFIG',
    `${site.owner}: a zod ${type} schema has no GraphQL equivalent; use a supported type or z.json()`,
  )
}

function literalType(values: readonly unknown[]): GraphQLLeafType {
  if (values.every((value) => typeof value === 'string')) return GraphQLString
  if (values.every((value) => typeof value === 'boolean')) return GraphQLBoolean
  if (values.every((value) => typeof value === 'number')) {
    return values.every((value) => Number.isInteger(value)) ? GraphQLInt : GraphQLFloat
  }
  return JsonScalar
}

function enumType(
  registry: TypeRegistry,
  schema: z.ZodType,
  entries: Record<string, string | number>,
  site: SchemaSite,
): GraphQLEnumType {
  return registry.named({
    name: declaredName(schema) ?? site.name,
    key: schema,
    role: 'enum',
    owner: site.owner,
    build: (name) => {
      const values: Record<string, { value: string | number }> = {}
      const distinct = [...new Set(Object.values(entries))]
      const convert = !enumValuesKeepTheirNames(distinct)
      for (const value of distinct) {
        const valueName = enumValueName(value, { convert })
        if (valueName in values) {
          throw new AnnalsError(
            'BAD_CONFIG',
            `${site.owner}: enum values ${JSON.stringify(values[valueName]?.value)} and ${JSON.stringify(value)} both become ${valueName} in GraphQL`,
          )
        }
        values[valueName] = { value }
      }
      const description = z.globalRegistry.get(schema)?.description
      return new GraphQLEnumType({ name, values, ...(description === undefined ? {} : { description }) })
    },
  })
}
