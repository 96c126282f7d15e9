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
 * The check is written as JavaScript for the query, as graphql-jit writes the query itself: a page of 50 rows
 * is 250 values to look at, and a closure per field cost more than the copy saved.
 *
 * Returns undefined for documents it does not cover: no query operation of that name, a directive, a fragment
 * on another type, an abstract type, introspection, an enum with a name other than its value (graphql sends
 * the name, so the copy would never stand and every request would run twice). Custom scalars are serialized
 * in both runs.
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
  const writer = new CheckWriter(fragments)
  const fields = writer.object(root, operation.selectionSet, 'data')
  if (fields === undefined) return undefined
  const check = writer.compile('data')
  return ({ data, errors }) => {
    if (!errors) return check(data)
    // A resolver's error at a root field: nothing under it ran, so no leaf differs there. Any deeper error may
    // have nulled leaves a serializing run would also have reported, so that run answers instead.
    if (!errors.every((error) => error.path?.length === 1)) return false
    return data === null ? fields === 1 : check(data)
  }
}

/**
 * Writes statements that `return false` when a value fails. Only generated names and response keys (quoted
 * with JSON.stringify) go into the source; enum names are passed in as sets.
 */
class CheckWriter {
  private readonly lines: string[] = []
  private readonly enums: ReadonlySet<unknown>[] = []
  private names = 0

  constructor(private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>) {}

  compile(parameter: string): Check {
    const source = `return function check(${parameter}) {\n${this.lines.join('\n')}\nreturn true\n}`
    // The source holds generated names and quoted response keys only, as graphql-jit's own generated code.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const build = new Function('enums', source) as (enums: readonly ReadonlySet<unknown>[]) => Check
    return build(this.enums)
  }

  /** The checks of an object's selected fields; the number of fields, or undefined when not covered. */
  object(
    type: GraphQLObjectType,
    selectionSet: SelectionSetNode,
    value: string,
    outer: ReadonlySet<string> = new Set(),
  ): number | undefined {
    this.lines.push(`if (typeof ${value} !== 'object' || ${value} === null) return false`)
    let fields = 0
    // graphql runs a fragment's fields once per selection set however often it is spread there, so a spread
    // already walked here is skipped: walking each again made "F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } ..."
    // 2^n walks. `ancestors` ends a cycle, which validation refuses anyway.
    const visited = new Set<string>()
    const collect = (selections: SelectionSetNode, ancestors: ReadonlySet<string>): boolean => {
      for (const selection of selections.selections) {
        if (selection.directives?.length) return false
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value === '__typename') continue
          const field = type.getFields()[selection.name.value]
          const key = JSON.stringify(selection.alias?.value ?? selection.name.value)
          const name = this.name()
          this.lines.push(`const ${name} = ${value}[${key}]`)
          if (!field || !this.output(field.type, selection.selectionSet, name, ancestors)) return false
          fields++
          continue
        }
        const spread = selection.kind === Kind.FRAGMENT_SPREAD ? selection.name.value : undefined
        if (spread !== undefined && visited.has(spread)) continue
        if (spread !== undefined && ancestors.has(spread)) return false
        const fragment =
          selection.kind === Kind.INLINE_FRAGMENT ? selection : this.fragments.get(selection.name.value)
        const condition = fragment?.typeCondition?.name.value
        if (!fragment || (condition !== undefined && condition !== type.name)) return false
        if (spread !== undefined) visited.add(spread)
        if (
          !collect(fragment.selectionSet, spread === undefined ? ancestors : new Set([...ancestors, spread]))
        )
          return false
      }
      return true
    }
    return collect(selectionSet, outer) ? fields : undefined
  }

  /** Objects and lists graphql-jit checks for null itself; leaves are where the copy must be checked. */
  private output(
    type: GraphQLOutputType,
    selectionSet: SelectionSetNode | undefined,
    value: string,
    ancestors: ReadonlySet<string>,
  ): boolean {
    const nullable = !(type instanceof GraphQLNonNull)
    const inner = type instanceof GraphQLNonNull ? type.ofType : type
    if (nullable) this.lines.push(`if (${value} !== null) {`)
    else this.lines.push(`if (${value} === null) return false`)
    let covered = true
    if (inner instanceof GraphQLList) {
      const [index, item] = [this.name(), this.name()]
      this.lines.push(`if (!Array.isArray(${value})) return false`)
      this.lines.push(`for (let ${index} = 0; ${index} < ${value}.length; ${index}++) {`)
      this.lines.push(`const ${item} = ${value}[${index}]`)
      covered = this.output(inner.ofType, selectionSet, item, ancestors)
      this.lines.push('}')
    } else if (inner instanceof GraphQLObjectType) {
      covered = selectionSet !== undefined && this.object(inner, selectionSet, value, ancestors) !== undefined
    } else if (isLeafType(inner)) {
      covered = this.leaf(inner, value)
    } else {
      covered = false
    }
    if (nullable) this.lines.push('}')
    return covered
  }

  /** False for an enum with a name other than its value: graphql sends the name, so no copy could pass. */
  private leaf(type: GraphQLLeafType, value: string): boolean {
    if (type instanceof GraphQLEnumType) {
      const values = type.getValues()
      if (values.some((enumValue) => enumValue.value !== enumValue.name)) return false
      this.enums.push(new Set(values.map((enumValue) => enumValue.name)))
      this.lines.push(`if (!enums[${this.enums.length - 1}].has(${value})) return false`)
      return true
    }
    // A custom scalar is serialized in both runs; only its null (checked above) matters.
    if (!isSpecifiedScalarType(type)) return true
    const valid = {
      Int: `typeof ${value} === 'number' && (${value} | 0) === ${value}`,
      Float: `typeof ${value} === 'number' && Number.isFinite(${value})`,
      Boolean: `typeof ${value} === 'boolean'`,
      String: `typeof ${value} === 'string'`,
      ID: `typeof ${value} === 'string'`,
    }[type.name]
    if (valid === undefined) throw new Error(`No check for the built-in scalar ${type.name}`)
    this.lines.push(`if (!(${valid})) return false`)
    return true
  }

  private name(): string {
    return `v${this.names++}`
  }
}
