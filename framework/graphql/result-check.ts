import {
  GraphQLEnumType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  Kind,
  OperationTypeNode,
  isLeafType,
  isSpecifiedScalarType,
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLLeafType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql'

/** True when the copied result is, byte for byte, what the serializing run would give. */
export type ResultCheck = (result: ExecutionResult) => boolean

type Check = (value: unknown) => boolean

/**
 * A check of a query's result run with graphql-jit's `disableLeafSerialization`, which copies the values of
 * String, ID, Int, Float, Boolean and enum fields as the resolvers return them, without a serializer call and
 * the error path and locations allocated for each (a quarter of a 50-row page's allocation). The check passes
 * only when that copy is byte for byte what the serialized run gives: a string for String and ID, a 32-bit
 * integer for Int, a finite number for Float, a boolean, an enum value named as itself, and null only where
 * the field may be null. When it fails, the caller runs the serializing query instead, which reports the
 * error as graphql does.
 *
 * Returns undefined for documents it does not cover: no query operation of that name, a directive, a fragment
 * on another type, an abstract type, introspection. Custom scalars are serialized in both runs.
 */
export function compileResultCheck(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
): ResultCheck | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>()
  const operations = []
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition)
    else if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition)
  }
  const operation =
    operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((candidate) => candidate.name?.value === operationName)
  const root = schema.getQueryType()
  if (!operation || operation.operation !== OperationTypeNode.QUERY || operation.directives?.length || !root)
    return undefined
  const checked = objectCheck(root, operation.selectionSet, fragments)
  if (!checked) return undefined
  const { check, fields } = checked
  return ({ data, errors }) => {
    if (!errors) return check(data)
    // A resolver's error at a root field: nothing under it ran, so no leaf differs there. Any deeper error may
    // have nulled leaves a serializing run would also have reported, so that run answers instead.
    if (!errors.every((error) => error.path?.length === 1)) return false
    return data === null ? fields === 1 : check(data)
  }
}

function objectCheck(
  type: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): { readonly check: Check; readonly fields: number } | undefined {
  const fields: Array<readonly [string, Check]> = []
  const collect = (selections: SelectionSetNode, seen: ReadonlySet<string>): boolean => {
    for (const selection of selections.selections) {
      if (selection.directives?.length) return false
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value
        if (name === '__typename') continue
        const field = type.getFields()[name]
        const check = field && outputCheck(field.type, selection.selectionSet, fragments)
        if (!check) return false
        fields.push([selection.alias?.value ?? name, check])
        continue
      }
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value)
      const condition = fragment?.typeCondition?.name.value
      if (!fragment || (condition !== undefined && condition !== type.name)) return false
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        if (seen.has(selection.name.value)) return false
        if (!collect(fragment.selectionSet, new Set([...seen, selection.name.value]))) return false
      } else if (!collect(fragment.selectionSet, seen)) return false
    }
    return true
  }
  if (!collect(selectionSet, new Set())) return undefined
  const check: Check = (value) => {
    if (typeof value !== 'object' || value === null) return false
    for (const [key, fieldCheck] of fields) {
      if (!fieldCheck((value as Record<string, unknown>)[key])) return false
    }
    return true
  }
  return { check, fields: fields.length }
}

/** Objects and lists graphql-jit still checks for null itself; leaves are where the copy must be checked. */
function outputCheck(
  type: GraphQLOutputType,
  selectionSet: SelectionSetNode | undefined,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): Check | undefined {
  const nullable = !(type instanceof GraphQLNonNull)
  const inner = type instanceof GraphQLNonNull ? type.ofType : type
  let check: Check | undefined
  if (inner instanceof GraphQLList) {
    const item = outputCheck(inner.ofType, selectionSet, fragments)
    check = item && ((value) => Array.isArray(value) && everyItem(value, item))
  } else if (inner instanceof GraphQLObjectType) {
    check = selectionSet && objectCheck(inner, selectionSet, fragments)?.check
  } else if (isLeafType(inner)) {
    check = leafCheck(inner)
  }
  if (!check) return undefined
  const present = check
  return nullable ? (value) => value === null || present(value) : (value) => value !== null && present(value)
}

function leafCheck(type: GraphQLLeafType): Check {
  if (type instanceof GraphQLEnumType) {
    const names = new Set(
      type.getValues().flatMap((value) => (value.value === value.name ? [value.name] : [])),
    )
    return (value) => names.has(value as string)
  }
  if (!isSpecifiedScalarType(type)) return () => true
  switch (type.name) {
    case 'Int':
      return (value) => typeof value === 'number' && (value | 0) === value
    case 'Float':
      return (value) => typeof value === 'number' && Number.isFinite(value)
    case 'Boolean':
      return (value) => typeof value === 'boolean'
    default:
      return (value) => typeof value === 'string'
  }
}

/** Every index, holes included (`every` would skip a hole, which graphql answers as null). */
function everyItem(values: readonly unknown[], check: Check): boolean {
  for (let index = 0; index < values.length; index++) {
    if (!check(values[index])) return false
  }
  return true
}
