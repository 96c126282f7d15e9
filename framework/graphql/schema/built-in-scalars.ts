import { GraphQLBoolean, GraphQLFloat, GraphQLID, GraphQLInt, GraphQLString } from 'graphql'

/**
 * The built-in scalars' serializers with a first check for the value that needs no conversion (a row's
 * string, integer, number or boolean), which answers as graphql's own would; anything else goes to it.
 */
export const builtInScalars: Record<string, (value: unknown) => unknown> = {
  String: (value) => (typeof value === 'string' ? value : GraphQLString.serialize(value)),
  ID: (value) => (typeof value === 'string' ? value : GraphQLID.serialize(value)),
  Boolean: (value) => (typeof value === 'boolean' ? value : GraphQLBoolean.serialize(value)),
  Int: (value) => (isInt32(value) ? value : GraphQLInt.serialize(value)),
  Float: (value) =>
    typeof value === 'number' && Number.isFinite(value) ? value : GraphQLFloat.serialize(value),
}

function isInt32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value <= 2147483647 && value >= -2147483648
}
