import { AnnalsError, type FieldFilter, type ListQuery, type OrderBy } from '../../framework/index.ts'

type Row = Readonly<Record<string, unknown>>
type Filters = Readonly<Record<string, FieldFilter>>

/** Whether a row passes every field filter. */
export function matchesWhere(row: Row, where: Filters | undefined): boolean {
  if (!where) return true
  for (const field in where) {
    if (!matchesField(row[field], where[field]!)) return false
  }
  return true
}

/** Refuses filters and orderings on fields the row does not have. */
export function assertFields(query: ListQuery, fields: readonly string[], model: string): void {
  const named = [...Object.keys(query.where ?? {}), ...(query.orderBy ?? []).map((order) => order.field)]
  for (const field of named) {
    if (!fields.includes(field)) throw new AnnalsError('BAD_INPUT', `${model} has no field "${field}"`)
  }
}

/** Total order of rows: the requested fields, then the key, so pages never overlap or skip. */
export function rowComparator(orderBy: readonly OrderBy[], key: string): (a: Row, b: Row) => number {
  if (orderBy.length === 0) return (a, b) => compareValues(a[key], b[key])
  const order = [...orderBy, { field: key, direction: 'asc' as const }]
  return (a, b) => {
    for (const { field, direction } of order) {
      const compared = compareValues(a[field], b[field])
      if (compared !== 0) return direction === 'asc' ? compared : -compared
    }
    return 0
  }
}

/** An opaque cursor: the sort values and key of the last row of a page. */
export function encodeCursor(row: Row, orderBy: readonly OrderBy[], key: string): string {
  const values = [...orderBy.map((order) => row[order.field]), row[key]].map(toCursorValue)
  return Buffer.from(JSON.stringify(values)).toString('base64url')
}

/** Turns a cursor back into a row-shaped object that compares like the row it was made from. */
export function decodeCursor(cursor: string, orderBy: readonly OrderBy[], key: string): Row {
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown
    const fields = [...orderBy.map((order) => order.field), key]
    if (!Array.isArray(values) || values.length !== fields.length) throw new Error('shape')
    return Object.fromEntries(fields.map((field, i) => [field, fromCursorValue(values[i])]))
  } catch {
    throw new AnnalsError('BAD_INPUT', 'The cursor is not one this list issued (or the ordering changed)')
  }
}

/** A value's identity for hash indexes: equal values (also Dates) share a key. */
export function indexKey(value: unknown): string {
  if (value instanceof Date) return `d:${value.getTime()}`
  if (value === null || value === undefined) return 'null'
  return `${typeof value}:${stringOf(value)}`
}

export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0
  // Absent and null are one value: a cursor carries an absent field as null.
  if ((a === undefined || a === null) && (b === undefined || b === null)) return 0
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : 1
  if (a === undefined || a === null) return -1
  if (b === undefined || b === null) return 1
  const left = a instanceof Date ? a.getTime() : a
  const right = b instanceof Date ? b.getTime() : b
  if (typeof left === typeof right && (typeof left === 'number' || typeof left === 'bigint')) {
    return (left as number) < (right as number) ? -1 : (left as number) > (right as number) ? 1 : 0
  }
  const l = stringOf(left)
  const r = stringOf(right)
  return l < r ? -1 : l > r ? 1 : 0
}

function matchesField(value: unknown, filter: FieldFilter): boolean {
  if ('eq' in filter && compareValues(value, filter.eq) !== 0) return false
  if ('ne' in filter && compareValues(value, filter.ne) === 0) return false
  if (filter.in && !filter.in.some((candidate) => compareValues(value, candidate) === 0)) return false
  const bounded = value !== undefined && value !== null
  if (filter.gt !== undefined && !(bounded && compareValues(value, filter.gt) > 0)) return false
  if (filter.gte !== undefined && !(bounded && compareValues(value, filter.gte) >= 0)) return false
  if (filter.lt !== undefined && !(bounded && compareValues(value, filter.lt) < 0)) return false
  if (filter.lte !== undefined && !(bounded && compareValues(value, filter.lte) <= 0)) return false
  if (filter.contains !== undefined && !(typeof value === 'string' && value.includes(filter.contains))) {
    return false
  }
  return true
}

function stringOf(value: unknown): string {
  if (typeof value === 'string') return value
  return typeof value === 'object' ? JSON.stringify(value) : `${value as number | boolean | bigint}`
}

function toCursorValue(value: unknown): unknown {
  if (value instanceof Date) return { d: value.getTime() }
  if (typeof value === 'bigint') return { b: value.toString() }
  return value ?? null
}

function fromCursorValue(value: unknown): unknown {
  if (value && typeof value === 'object' && 'd' in value) return new Date((value as { d: number }).d)
  if (value && typeof value === 'object' && 'b' in value) return BigInt((value as { b: string }).b)
  return value
}
