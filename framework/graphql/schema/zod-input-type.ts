import {
  GraphQLBoolean,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  type GraphQLInputFieldConfig,
  type GraphQLInputType,
  type GraphQLEnumType,
  type GraphQLScalarType,
} from 'graphql'
import { z } from 'zod'
import { camelCase, pascalCase } from './graphql-names.ts'
import { JsonScalar } from './graphql-scalars.ts'
import { declaredName, defOf, inspectZod } from './inspect-zod.ts'
import type { TypeRegistry } from './type-registry.ts'
import { fieldSite, unsupportedSchema, zodLeafType, type SchemaSite } from './zod-leaf-type.ts'
import { discriminatedOptions } from './zod-output-type.ts'

type GraphQLNullableInputType =
  GraphQLScalarType | GraphQLEnumType | GraphQLInputObjectType | GraphQLList<GraphQLInputType>

/**
 * The GraphQL input type of a zod schema. Objects become input types named `<site name>Input`; a field that
 * may be absent (optional, default) or null is nullable, and a plain default shows in the SDL. A
 * discriminated union becomes a @oneOf input with one field per variant, named after its discriminator
 * value (`{ charge: { kw: 5 } }` for `{ kind: 'charge', kw: 5 }`); fromGraphQLInput turns it back.
 */
export function zodInputType(registry: TypeRegistry, schema: z.ZodType, site: SchemaSite): GraphQLInputType {
  const { base, optional, nullable } = inspectZod(schema, 'input')
  const type = baseInputType(registry, base, site)
  return optional || nullable ? type : new GraphQLNonNull(type)
}

/** The input fields for a zod object's shape. */
export function zodInputFields(
  registry: TypeRegistry,
  shape: Readonly<Record<string, z.ZodType>>,
  site: SchemaSite,
): Record<string, GraphQLInputFieldConfig> {
  const fields: Record<string, GraphQLInputFieldConfig> = {}
  for (const [field, fieldSchema] of Object.entries(shape)) {
    const { description, defaultValue } = inspectZod(fieldSchema, 'input')
    fields[field] = {
      type: zodInputType(registry, fieldSchema, fieldSite(site, field)),
      ...(description === undefined ? {} : { description }),
      ...(defaultValue === undefined ? {} : { defaultValue }),
    }
  }
  return fields
}

function baseInputType(registry: TypeRegistry, base: z.ZodType, site: SchemaSite): GraphQLNullableInputType {
  const leaf = zodLeafType(registry, base, site)
  if (leaf) return leaf
  const def = defOf(base)
  switch (def.type) {
    case 'array':
      return new GraphQLList(zodInputType(registry, def.element as z.ZodType, site))
    case 'object':
      return objectInputType(registry, base as z.ZodObject, site)
    case 'union':
      return oneOfInputType(registry, base, site)
  }
  throw unsupportedSchema(site, def.type)
}

function objectInputType(
  registry: TypeRegistry,
  schema: z.ZodObject,
  site: SchemaSite,
): GraphQLNullableInputType {
  const shape = schema.shape as Record<string, z.ZodType>
  if (Object.keys(shape).length === 0) return JsonScalar
  const baseName = declaredName(schema) ?? site.name
  return registry.named({
    name: `${baseName}Input`,
    key: schema,
    role: 'input',
    owner: site.owner,
    build: (name) => {
      const description = z.globalRegistry.get(schema)?.description
      return new GraphQLInputObjectType({
        name,
        ...(description === undefined ? {} : { description }),
        fields: () => zodInputFields(registry, shape, { name: baseName, owner: site.owner }),
      })
    },
  })
}

function oneOfInputType(registry: TypeRegistry, schema: z.ZodType, site: SchemaSite): GraphQLInputObjectType {
  const { discriminator, options } = discriminatedOptions(schema, site)
  const baseName = declaredName(schema) ?? site.name
  return registry.named({
    name: `${baseName}Input`,
    key: schema,
    role: 'input',
    owner: site.owner,
    build: (name) =>
      new GraphQLInputObjectType({
        name,
        description: `Exactly one of the variants, each named after its ${discriminator}.`,
        isOneOf: true,
        fields: () => {
          const fields: Record<string, GraphQLInputFieldConfig> = {}
          for (const [value, option] of options) {
            const rest = option.omit({ [discriminator]: true } as never) as z.ZodObject
            const variantSite = {
              name: baseName + pascalCase(String(value)),
              owner: `${site.owner}, variant ${String(value)}`,
            }
            const empty = Object.keys(rest.shape).length === 0
            const type = empty ? GraphQLBoolean : objectInputType(registry, rest, variantSite)
            fields[oneOfFieldName(value)] = { type }
          }
          return fields
        },
      }),
  })
}

/** The @oneOf field that stands for a discriminator value. */
export function oneOfFieldName(value: unknown): string {
  return camelCase(String(value))
}
