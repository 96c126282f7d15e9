import { LRUCache } from 'lru-cache'
import {
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql'

/** How big an operation is: the limits are checked against these on every request. */
export interface OperationMeasure {
  readonly depth: number
  /** One per field, multiplied by the sizes of the lists above it (a `first` argument, else a default). */
  readonly cost: number
  readonly aliases: number
  readonly introspection: boolean
  /**
   * Fragment spreads as a compiler that inlines each one expands them (graphql-jit, which mercurius runs on
   * a document it has seen before): a spread counts once and again for each spread inside its fragment.
   */
  readonly spreads: number
}

export interface MeasureOptions {
  readonly variables?: Readonly<Record<string, unknown>> | undefined
  /** The size assumed for a list without a `first` argument above it. */
  readonly defaultListSize: number
  /** The cap on `first`; also the size assumed when `first` is absent on a paginated field. */
  readonly maxPageSize: number
}

/** What one document measured, by the values of the variables its `first` arguments read. */
interface MeasuredDocument {
  readonly schema: GraphQLSchema
  readonly defaultListSize: number
  readonly maxPageSize: number
  /** The variables the measure reads; the walk visits the same nodes whatever their values. */
  readonly variables: readonly string[]
  readonly byValues: LRUCache<string, OperationMeasure>
}

/** Distinct variable values remembered per document, the least recently used forgotten first. */
const MAX_VALUES_PER_DOCUMENT = 32

// Parsed documents are reused by mercurius's cache, so the measure is remembered per document object.
const measured = new WeakMap<DocumentNode, MeasuredDocument>()

/**
 * Measures every operation of a document (the largest counts), resolving `first` from the variables.
 * Remembered per document and per value of the variables it reads, so a repeated request walks nothing.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  options: MeasureOptions,
): OperationMeasure {
  let memo = measured.get(document)
  if (
    memo?.schema !== schema ||
    memo.defaultListSize !== options.defaultListSize ||
    memo.maxPageSize !== options.maxPageSize
  ) {
    const read = new Set<string>()
    const measure = walkDocument(schema, document, options, read)
    memo = {
      schema,
      defaultListSize: options.defaultListSize,
      maxPageSize: options.maxPageSize,
      variables: [...read],
      byValues: new LRUCache({ max: MAX_VALUES_PER_DOCUMENT }),
    }
    measured.set(document, memo)
    memo.byValues.set(valuesKey(memo.variables, options.variables), measure)
    return measure
  }
  const key = valuesKey(memo.variables, options.variables)
  let measure = memo.byValues.get(key)
  if (!measure) {
    measure = walkDocument(schema, document, options, new Set())
    memo.byValues.set(key, measure)
  }
  return measure
}

/** The values the measure depends on: each read variable's number, or nothing when it is not one. */
function valuesKey(names: readonly string[], variables: MeasureOptions['variables']): string {
  let key = ''
  for (const name of names) {
    const value = variables?.[name]
    key += typeof value === 'number' ? `${value},` : ','
  }
  return key
}

function walkDocument(
  schema: GraphQLSchema,
  document: DocumentNode,
  options: MeasureOptions,
  read: Set<string>,
): OperationMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition)
  }
  const measure = { depth: 0, cost: 0, aliases: 0, introspection: false, spreads: 0 }
  const spreadsIn = expandedSpreads(fragments)
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue
    const root = schema.getRootType(definition.operation)
    const state = { depth: 0, cost: 0, aliases: 0, introspection: false }
    if (root)
      walk(definition.selectionSet, root, {
        level: 1,
        multiplier: 1,
        pending: undefined,
        ancestors: new Set(),
        visited: new Set(),
      })
    measure.depth = Math.max(measure.depth, state.depth)
    measure.cost = Math.max(measure.cost, state.cost)
    measure.aliases = Math.max(measure.aliases, state.aliases)
    measure.introspection ||= state.introspection
    measure.spreads = Math.max(measure.spreads, spreadsIn(definition.selectionSet))

    function walk(
      selectionSet: SelectionSetNode,
      parent: GraphQLNamedType,
      at: {
        level: number
        multiplier: number
        pending: number | undefined
        /** Fragments spread on the way here: a cycle ends (validation refuses one, this guards the walk). */
        ancestors: Set<string>
        /** Fragments spread in this selection set so far, however deep in fragments. */
        visited: Set<string>
      },
    ): void {
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.INLINE_FRAGMENT) {
          const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent
          walk(selection.selectionSet, type ?? parent, at)
          continue
        }
        if (selection.kind === Kind.FRAGMENT_SPREAD) {
          const spread = selection.name.value
          const fragment = fragments.get(spread)
          // graphql runs a fragment's fields once per selection set however often it is spread there; walking
          // each spread again made "F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } ..." cost 2^n walks for n fragments.
          if (!fragment || at.visited.has(spread) || at.ancestors.has(spread)) continue
          at.visited.add(spread)
          const type = schema.getType(fragment.typeCondition.name.value) ?? parent
          // One set for the whole path, added to and taken from: a copy per spread made a chain of n
          // fragments cost n² per operation (200 operations over a chain of 180 took ~190 ms).
          at.ancestors.add(spread)
          walk(fragment.selectionSet, type, at)
          at.ancestors.delete(spread)
          continue
        }
        const name = selection.name.value
        if (selection.alias) state.aliases++
        if (name === '__schema' || name === '__type') state.introspection = true
        if (name.startsWith('__')) continue
        state.depth = Math.max(state.depth, at.level)
        state.cost += at.multiplier
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined
        if (!field || !selection.selectionSet) continue
        let pending = at.pending
        const first = field.args.find((arg) => arg.name === 'first')
        if (first) {
          const given = selection.arguments?.find((arg) => arg.name.value === 'first')
          if (given?.value.kind === Kind.VARIABLE) read.add(given.value.name.value)
          const size = given ? numberOf(given.value, options.variables) : undefined
          pending = Math.min(size ?? options.maxPageSize, options.maxPageSize)
        }
        let multiplier = at.multiplier
        if (isListType(getNullableType(field.type))) {
          multiplier *= Math.max(pending ?? options.defaultListSize, 1)
          pending = undefined
        }
        walk(selection.selectionSet, getNamedType(field.type), {
          level: at.level + 1,
          multiplier,
          pending,
          ancestors: at.ancestors,
          visited: new Set(),
        })
      }
    }
  }
  return measure
}

/**
 * Counts the spreads under a selection set as inlining expands them, each fragment's count remembered, so
 * "F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } ..." is counted in one pass while it expands to 2^n.
 */
function expandedSpreads(
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
): (selectionSet: SelectionSetNode) => number {
  const perFragment = new Map<string, number>()
  const inFragment = (name: string, path: Set<string>): number => {
    const known = perFragment.get(name)
    if (known !== undefined) return known
    const fragment = fragments.get(name)
    if (!fragment || path.has(name)) return 0 // a cycle, which validation refuses
    path.add(name)
    const count = inSelections(fragment.selectionSet, path)
    path.delete(name)
    perFragment.set(name, count)
    return count
  }
  const inSelections = (selectionSet: SelectionSetNode, path: Set<string>): number => {
    let count = 0
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) count += 1 + inFragment(selection.name.value, path)
      else if (selection.selectionSet) count += inSelections(selection.selectionSet, path)
    }
    return count
  }
  return (selectionSet) => inSelections(selectionSet, new Set())
}

function numberOf(
  value: ValueNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): number | undefined {
  if (value.kind === Kind.INT) return Number(value.value)
  if (value.kind === Kind.VARIABLE) {
    const given = variables?.[value.name.value]
    return typeof given === 'number' ? given : undefined
  }
  return undefined
}
