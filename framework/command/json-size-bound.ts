/**
 * An upper bound on the UTF-8 bytes of `JSON.stringify(value)`, without building the string: cheap enough
 * to run on every event a command group proposes. It stops once the bound passes `limit` (and returns
 * Infinity), so a huge, deep or cyclic value costs no more than `limit` allows.
 *
 * @example
 * jsonSizeBound({ by: 1 }, 1024) // ≥ Buffer.byteLength('{"by":1}')
 */
export function jsonSizeBound(value: unknown, limit: number): number {
  const size = measure(value, limit, 0)
  return size > limit ? Infinity : size
}

// A JSON number takes at most 25 characters: 17 significant digits below 1e-6 are still written in full
// (-0.0000012345678901234567), one more than the exponent form (-1.2345678901234567e+308). A UTF-16 unit
// takes at most 6 bytes (\u001f).
const NUMBER = 25
const PER_CHAR = 6
const MAX_DEPTH = 100

function measure(value: unknown, budget: number, depth: number): number {
  switch (typeof value) {
    case 'string':
      return 2 + PER_CHAR * value.length
    case 'number':
    case 'bigint':
      return NUMBER
    case 'boolean':
      return 5
    case 'object':
      break
    default:
      return 4
  }
  if (value === null) return 4
  if (depth > MAX_DEPTH) return Infinity
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return measure(toJSON.call(value), budget, depth + 1)
  let size = 2
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      size += 1 + measure(item, budget - size, depth + 1)
      if (size > budget) return Infinity
    }
    return size
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    size +=
      3 + PER_CHAR * key.length + measure((value as Record<string, unknown>)[key], budget - size, depth + 1)
    if (size > budget) return Infinity
  }
  return size
}
