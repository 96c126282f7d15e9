import { AnnalsError, type FieldFilter, type ListQuery, type OrderBy } from '../../../framework/index.ts'
import { decodeCursor } from '../row-query.ts'
import { encoderOf, type ColumnType, type RowTable } from './row-table.ts'

export interface ListSql {
  readonly text: string
  readonly values: unknown[]
  /** How many rows the page holds; the query asks for one more, to know whether a next page exists. */
  readonly size: number
}

/**
 * Turns a list query into one SELECT over the model's view: its filters as WHERE clauses on indexed columns,
 * its order (then the key) as ORDER BY, its cursor as a keyset condition, so that a page reads only its rows.
 * Nulls sort first ascending and last descending, as the in-memory store sorts them.
 */
export function listSql(
  view: string,
  table: RowTable,
  query: ListQuery,
  pageSize: { readonly defaultSize: number; readonly maxSize: number },
): ListSql {
  const values: unknown[] = []
  const param = (value: unknown, type: ColumnType | `${ColumnType}[]`) => {
    values.push(value)
    return `$${values.length}::${type}`
  }
  const conditions: string[] = []
  for (const [field, filter] of Object.entries(query.where ?? {})) {
    conditions.push(...filterSql(columnOf(table, field), filter, param))
  }
  const order = orderOf(table, query.orderBy ?? [])
  if (query.after !== undefined) {
    const cursor = decodeCursor(query.after, query.orderBy ?? [], table.key)
    conditions.push(keysetSql(order, cursor, param))
  }
  const size = Math.max(0, Math.min(query.first ?? pageSize.defaultSize, pageSize.maxSize))
  const where = conditions.length > 0 ? ` where ${conditions.join(' and ')}` : ''
  const orderBy = order
    .map(({ name, direction }) => `${name} ${direction} nulls ${direction === 'asc' ? 'first' : 'last'}`)
    .join(', ')
  const text = `select "_row" from ${view}${where} order by ${orderBy} limit ${size + 1}`
  return { text, values, size }
}

interface SortKey {
  readonly name: string
  readonly field: string
  readonly type: ColumnType
  readonly direction: 'asc' | 'desc'
}

type Param = (value: unknown, type: ColumnType | `${ColumnType}[]`) => string

function columnOf(table: RowTable, field: string): { name: string; type: ColumnType } {
  const column = table.columnOf(field)
  if (!column) throw new AnnalsError('BAD_INPUT', `The field "${field}" cannot be filtered or sorted on`)
  return { name: quote(column.name), type: column.type }
}

function orderOf(table: RowTable, orderBy: readonly OrderBy[]): SortKey[] {
  const keys = orderBy.map(({ field, direction }) => ({ ...columnOf(table, field), field, direction }))
  // The key last: a total order, so pages never overlap or skip.
  keys.push({ name: '"_key"', field: table.key, type: 'text', direction: 'asc' })
  return keys
}

function filterSql(column: { name: string; type: ColumnType }, filter: FieldFilter, param: Param): string[] {
  const { name, type } = column
  const encode = encoderOf(type)
  const sql: string[] = []
  if ('eq' in filter)
    sql.push(filter.eq === null ? `${name} is null` : `${name} = ${param(encode(filter.eq), type)}`)
  if ('ne' in filter) sql.push(`${name} is distinct from ${param(encode(filter.ne), type)}`)
  if (filter.in) sql.push(`${name} = any(${param(filter.in.map(encode), `${type}[]`)})`)
  if (filter.gt !== undefined) sql.push(`${name} > ${param(encode(filter.gt), type)}`)
  if (filter.gte !== undefined) sql.push(`${name} >= ${param(encode(filter.gte), type)}`)
  if (filter.lt !== undefined) sql.push(`${name} < ${param(encode(filter.lt), type)}`)
  if (filter.lte !== undefined) sql.push(`${name} <= ${param(encode(filter.lte), type)}`)
  if (filter.contains !== undefined) sql.push(`strpos(${name}, ${param(filter.contains, 'text')}) > 0`)
  return sql
}

const isMissing = (value: unknown) => value === null || value === undefined

/** Rows strictly after the cursor in the sort order: (k1 after v1) or (k1 = v1 and k2 after v2) or ... */
function keysetSql(
  order: readonly SortKey[],
  cursor: Readonly<Record<string, unknown>>,
  param: Param,
): string {
  const alternatives: string[] = []
  for (let index = 0; index < order.length; index++) {
    const key = order[index]!
    const value = cursor[key.field]
    // Nothing sorts after a missing value descending: skip the alternative before any of its parameters are
    // bound, since a parameter the text never names has no type and PostgreSQL refuses the statement.
    if (key.direction === 'desc' && isMissing(value)) continue
    const equal = order.slice(0, index).map((prior) => equalSql(prior, cursor[prior.field], param))
    alternatives.push(`(${[...equal, afterSql(key, value, param)].join(' and ')})`)
  }
  return alternatives.length > 0 ? `(${alternatives.join(' or ')})` : 'false'
}

function equalSql(key: SortKey, value: unknown, param: Param): string {
  if (isMissing(value)) return `${key.name} is null`
  return `${key.name} = ${param(encoderOf(key.type)(value), key.type)}`
}

/**
 * After `value` in the key's order, where nulls come first ascending and last descending (a missing value
 * descending has nothing after it: the caller skips it).
 */
function afterSql(key: SortKey, value: unknown, param: Param): string {
  if (key.direction === 'asc') {
    return isMissing(value)
      ? `${key.name} is not null`
      : `${key.name} > ${param(encoderOf(key.type)(value), key.type)}`
  }
  return `(${key.name} < ${param(encoderOf(key.type)(value), key.type)} or ${key.name} is null)`
}

/** A quoted SQL identifier. */
export function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`
}
