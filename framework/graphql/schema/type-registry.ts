import { GraphQLObjectType, type GraphQLNamedType, type GraphQLObjectTypeConfig } from 'graphql'
import { AnnalsError } from '../../errors.ts'
import { isGraphQLName } from './graphql-names.ts'

/** Which side of the schema a zod-derived type belongs to: objects differ, enums are shared. */
export type TypeRole = 'output' | 'input' | 'enum' | 'union' | 'framework'

/**
 * Every named GraphQL type the gateway builds, with who asked for it. A name is claimed once: the same
 * definition asking again gets the same type, a different definition claiming it stops start-up with a
 * message naming both.
 */
export interface TypeRegistry {
  /** The type for `key` (a zod schema or a framework object) in a role: built once, reused after. */
  named<T extends GraphQLNamedType>(request: NamedTypeRequest<T>): T
  /** Claims a name for something that is not a type (a Query, Mutation or Subscription field). */
  claimField(root: string, field: string, owner: string): void
  types(): readonly GraphQLNamedType[]
}

export interface NamedTypeRequest<T extends GraphQLNamedType> {
  readonly name: string
  readonly key: object
  readonly role: TypeRole
  /** Who asks, for messages: e.g. 'aggregate Battery, event BatteryInstalled'. */
  readonly owner: string
  readonly build: (name: string) => T
}

interface Claim {
  readonly key: object
  readonly role: TypeRole
  readonly owner: string
  readonly type: GraphQLNamedType
}

export function createTypeRegistry(): TypeRegistry {
  const byName = new Map<string, Claim>()
  const byKey = new Map<TypeRole, WeakMap<object, GraphQLNamedType>>()
  const fields = new Map<string, string>()

  return {
    named<T extends GraphQLNamedType>(request: NamedTypeRequest<T>): T {
      const { name, key, role, owner } = request
      const known = byKey.get(role)?.get(key)
      if (known) return known as T
      if (!isGraphQLName(name)) {
        throw new AnnalsError('BAD_CONFIG', `${owner}: "${name}" is not a valid GraphQL type name`)
      }
      const claimed = byName.get(name)
      if (claimed && claimed.key === key && claimed.role === role) return claimed.type as T
      if (claimed) {
        throw new AnnalsError(
          'BAD_CONFIG',
          `Two definitions produce the GraphQL type ${name}: ${claimed.owner} and ${owner}. ` +
            `Rename one, or name the schema with .meta({ id: '...' }).`,
        )
      }
      // Claim before building so recursive schemas (z.lazy) meet their own name and reuse it.
      const placeholder: Claim = { key, role, owner, type: undefined as unknown as GraphQLNamedType }
      byName.set(name, placeholder)
      const type = request.build(name)
      byName.set(name, { ...placeholder, type })
      const forRole = byKey.get(role) ?? new WeakMap<object, GraphQLNamedType>()
      forRole.set(key, type)
      byKey.set(role, forRole)
      return type
    },
    claimField(root, field, owner) {
      const id = `${root}.${field}`
      const claimed = fields.get(id)
      if (claimed !== undefined) {
        throw new AnnalsError(
          'BAD_CONFIG',
          `Two definitions produce the GraphQL field ${id}: ${claimed} and ${owner}. Rename one of them.`,
        )
      }
      if (!isGraphQLName(field)) {
        throw new AnnalsError('BAD_CONFIG', `${owner}: "${field}" is not a valid GraphQL field name`)
      }
      fields.set(id, owner)
    },
    types: () => [...byName.values()].map((claim) => claim.type),
  }
}

/** A framework object type (built by Annals, not derived from a zod schema): its name claimed once, its fields as given. */
export function frameworkObjectType<TSource = unknown, TContext = unknown>(
  registry: TypeRegistry,
  type: {
    readonly name: string
    readonly key: object
    readonly owner: string
    readonly description?: string
    readonly fields: GraphQLObjectTypeConfig<TSource, TContext>['fields']
  },
): GraphQLObjectType<TSource, TContext> {
  const { key, owner, description, fields } = type
  return registry.named({
    name: type.name,
    key,
    role: 'framework',
    owner,
    build: (name) =>
      new GraphQLObjectType<TSource, TContext>({
        name,
        ...(description === undefined ? {} : { description }),
        fields,
      }),
  })
}
