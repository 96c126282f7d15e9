/**
 * About how many bytes a JSON-like value takes, without building its JSON: strings and keys count as in JSON,
 * numbers as the 8 bytes they take in memory, an object that is not plain (a Date) as a short string. What a
 * bound on rows kept in memory counts.
 *
 * @example
 * approximateSize({ siteId: 'site-1', energyKwh: 5 }) // 41
 */
export function approximateSize(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2
    case 'number':
    case 'bigint':
      return 8
    case 'boolean':
      return 5
    case 'object': {
      if (value === null) return 4
      if (Array.isArray(value)) {
        let size = 2
        for (const item of value) size += approximateSize(item) + 1
        return size
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
        return 26
      let size = 2
      for (const key in value)
        size += key.length + 4 + approximateSize((value as Record<string, unknown>)[key])
      return size
    }
    default:
      return 0
  }
}
