import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql'

/** An ISO 8601 date-time; outputs accept a Date or an ISO string, inputs must be ISO strings. */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An ISO 8601 date-time, e.g. 2026-11-24T09:30:00.000Z.',
  serialize(value) {
    if (value instanceof Date) return value.toISOString()
    if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value
    throw new GraphQLError(`DateTime cannot represent ${JSON.stringify(value)}`)
  },
  parseValue: parseDateTime,
  parseLiteral(node) {
    if (node.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string')
    return parseDateTime(node.value)
  },
})

/** Any JSON value: records, maps and other shapes GraphQL cannot type field by field. */
export const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node, variables) => literalToJson(node, variables),
})

function parseDateTime(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError(`DateTime must be an ISO 8601 string, got ${JSON.stringify(value)}`)
  }
  return value
}

function literalToJson(node: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return node.value
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value)
    case Kind.NULL:
      return null
    case Kind.LIST:
      return node.values.map((value) => literalToJson(value, variables))
    case Kind.OBJECT:
      return Object.fromEntries(
        node.fields.map((field) => [field.name.value, literalToJson(field.value, variables)]),
      )
    case Kind.VARIABLE:
      return variables?.[node.name.value]
  }
}
