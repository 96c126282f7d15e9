import {
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLUnionType,
  type GraphQLFieldConfig,
  type GraphQLEnumType,
  type GraphQLScalarType,
  type GraphQLOutputType,
} from 'graphql'
import { z } from 'zod'
import { AnnalsError } from '../../errors.ts'
import { pascalCase } from './graphql-names.ts'
import { JsonScalar } from './graphql-scalars.ts'
import { declaredName, defOf, inspectZod } from './inspect-zod.ts'
import type { TypeRegistry } from './type-registry.ts'
import { fieldSite, unsupportedSchema, zodLeafType, type SchemaSite } from './zod-leaf-type.ts'

type GraphQLNullableOutputType =
  GraphQLScalarType | GraphQLEnumType | GraphQLObjectType | GraphQLUnionType | GraphQLList<GraphQLOutputType>

/**
 * The GraphQL output type of a zod schema: objects become object types, discriminated unions become unions
 * (one object type per variant), arrays lists; a field that may be absent or null is nullable, any other
 * is non-null. `.describe()` becomes the description.
 *
 * @example
 * zodOutputType(registry, z.object({ kw: z.number() }), { name: 'ChargingStarted', owner: 'event ChargingStarted' })
 */
export function zodOutputType(
  registry: TypeRegistry,
  schema: z.ZodType,
  site: SchemaSite,
): GraphQLOutputType {
  const { base, optional, nullable } = inspectZod(schema, 'output')
  const type = baseOutputType(registry, base, site)
  return optional || nullable ? type : new GraphQLNonNull(type)
}

/** The fields of an object type for a zod object's shape; bigints are turned into strings on the way out. */
export function zodOutputFields(
  registry: TypeRegistry,
  shape: Readonly<Record<string, z.ZodType>>,
  site: SchemaSite,
): Record<string, GraphQLFieldConfig<unknown, unknown>> {
  const fields: Record<string, GraphQLFieldConfig<unknown, unknown>> = {}
  for (const [field, fieldSchema] of Object.entries(shape)) {
    const { base, description } = inspectZod(fieldSchema, 'output')
    const type = zodOutputType(registry, fieldSchema, fieldSite(site, field))
    const convert = bigintConverter(base)
    fields[field] = {
      type,
      ...(description === undefined ? {} : { description }),
      ...(convert ? { resolve: (source) => convert((source as Record<string, unknown>)[field]) } : {}),
    }
  }
  return fields
}

function baseOutputType(
  registry: TypeRegistry,
  base: z.ZodType,
  site: SchemaSite,
): GraphQLNullableOutputType {
  const leaf = zodLeafType(registry, base, site)
  if (leaf) return leaf
  const def = defOf(base)
  switch (def.type) {
    case 'array':
      return new GraphQLList(zodOutputType(registry, def.element as z.ZodType, site))
    case 'object':
      return objectType(registry, base as z.ZodObject, site)
    case 'union':
      return unionType(registry, base, site)
    case 'pipe':
    case 'transform':
      return JsonScalar
  }
  throw unsupportedSchema(site, def.type)
}

function objectType(
  registry: TypeRegistry,
  schema: z.ZodObject,
  site: SchemaSite,
): GraphQLNullableOutputType {
  const shape = schema.shape as Record<string, z.ZodType>
  if (Object.keys(shape).length === 0) return JsonScalar
  return registry.named({
    name: declaredName(schema) ?? site.name,
    key: schema,
    role: 'output',
    owner: site.owner,
    build: (name) => {
      const description = z.globalRegistry.get(schema)?.description
      return new GraphQLObjectType({
        name,
        ...(description === undefined ? {} : { description }),
        fields: () => zodOutputFields(registry, shape, { name, owner: site.owner }),
      })
    },
  })
}

function unionType(registry: TypeRegistry, schema: z.ZodType, site: SchemaSite): GraphQLUnionType {
  const { discriminator, options } = discriminatedOptions(schema, site)
  return registry.named({
    name: declaredName(schema) ?? site.name,
    key: schema,
    role: 'union',
    owner: site.owner,
    build: (name) => {
      const members = new Map<unknown, GraphQLObjectType>()
      for (const [value, option] of options) {
        const memberSite = {
          name: name + pascalCase(String(value)),
          owner: `${site.owner}, variant ${String(value)}`,
        }
        const member = objectType(registry, option, memberSite)
        if (!(member instanceof GraphQLObjectType)) throw unsupportedSchema(memberSite, 'empty object')
        members.set(value, member)
      }
      return new GraphQLUnionType({
        name,
        types: () => [...members.values()],
        resolveType: (value) => members.get((value as Record<string, unknown>)[discriminator])?.name,
      })
    },
  })
}

/** The discriminator and the variants of a discriminated union, each keyed by its discriminator value. */
export function discriminatedOptions(
  schema: z.ZodType,
  site: SchemaSite,
): { discriminator: string; options: Map<unknown, z.ZodObject> } {
  const def = defOf(schema)
  const discriminator = def.discriminator
  if (typeof discriminator !== 'string') {
    throw new AnnalsError(
      'BAD_CONFIG',
      `${site.owner}: only discriminated unions (z.discriminatedUnion) map to GraphQL; a plain z.union does not`,
    )
  }
  const options = new Map<unknown, z.ZodObject>()
  for (const option of def.options as z.ZodObject[]) {
    const literal = defOf(option.shape[discriminator] as z.ZodType)
    for (const value of (literal.values as unknown[] | undefined) ?? []) options.set(value, option)
  }
  return { discriminator, options }
}

function bigintConverter(base: z.ZodType): ((value: unknown) => unknown) | undefined {
  const def = defOf(base)
  if (def.type === 'bigint') return (value) => (typeof value === 'bigint' ? value.toString() : value)
  if (def.type === 'array' && defOf(inspectZod(def.element as z.ZodType, 'output').base).type === 'bigint') {
    return (value) => (Array.isArray(value) ? value.map((item: unknown) => String(item)) : value)
  }
  return undefined
}
