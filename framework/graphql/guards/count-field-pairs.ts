import { Kind, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode } from 'graphql'

/**
 * Selections looked at before a count gives up: the walk expands fragments, so it is bounded itself, and a
 * document that needs more than this to be counted is past any pair limit a service would set.
 */
export const maxCountedSelections = 50_000

/**
 * Estimates from above the pairs graphql's OverlappingFieldsCanBeMerged compares (a chain of fragments, which
 * it follows one by one, counts here as fragments merged into one set): in each selection set, as fields of the
 * same response name merge (through inline fragments, fragments and the sub-selections of merged fields),
 * every two of them, and every two fragments spread there. Its work grows with this count (pairs of 300
 * copies of one field took it ~125 ms), so the gate checks it before validating. Each operation counts, and
 * each fragment no operation reaches (graphql validates those too). Stops as soon as the count passes `max`,
 * and returns Infinity when the walk would look at more than maxCountedSelections selections.
 */
export function countFieldPairs(document: DocumentNode, max: number): number {
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition)
  }
  let pairs = 0
  let visits = 0
  /** Fragments counted where they are spread: their own pairs are among those of the set they merge into. */
  const reached = new Set<string>()

  /** One merged selection set: every selection set that graphql merges into it, and the fragments on the way. */
  /** `path`: the fragments spread on the way here, added to and taken from as the walk goes (a cycle ends). */
  const count = (sets: readonly SelectionSetNode[], path: Set<string>): void => {
    const byName = new Map<string, { fields: number; children: SelectionSetNode[] }>()
    const spread = new Set<string>()
    const collect = (set: SelectionSetNode): void => {
      for (const selection of set.selections) {
        if (++visits > maxCountedSelections) return
        if (selection.kind === Kind.FIELD) {
          const name = selection.alias?.value ?? selection.name.value
          const group = byName.get(name) ?? { fields: 0, children: [] }
          byName.set(name, group)
          group.fields++
          if (selection.selectionSet) group.children.push(selection.selectionSet)
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          collect(selection.selectionSet)
        } else {
          const name = selection.name.value
          const fragment = fragments.get(name)
          // A fragment counts once per merged set, as graphql compares it once; a cycle is validation's to refuse.
          if (!fragment || spread.has(name) || path.has(name)) continue
          spread.add(name)
          reached.add(name)
          collect(fragment.selectionSet)
        }
      }
    }
    for (const set of sets) collect(set)
    pairs += choose2(spread.size)
    for (const name of spread) path.add(name)
    for (const group of byName.values()) {
      pairs += choose2(group.fields)
      if (pairs > max || visits > maxCountedSelections) break
      if (group.children.length > 0) count(group.children, path)
    }
    for (const name of spread) path.delete(name)
  }

  for (const definition of document.definitions) {
    if (pairs > max || visits > maxCountedSelections) break
    if (definition.kind === Kind.OPERATION_DEFINITION) count([definition.selectionSet], new Set())
  }
  for (const [name, fragment] of fragments) {
    if (pairs > max || visits > maxCountedSelections) break
    if (!reached.has(name)) count([fragment.selectionSet], new Set([name]))
  }
  return visits > maxCountedSelections ? Infinity : pairs
}

function choose2(n: number): number {
  return (n * (n - 1)) / 2
}
