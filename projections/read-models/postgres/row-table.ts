import type { z } from 'zod'
import { AnnalsError } from '../../../framework/index.ts'
import { defOf, inspectZod } from '../../../framework/internal.ts'

/** The SQL type of a column a gateway filter or order reads. */
export type ColumnType = 'text' | 'float8' | 'boolean' | 'timestamptz' | 'numeric'

/** A row field kept in a real, indexed column next to the row's JSON, so filters and orders run in SQL. */
export interface Column {
  /** The row field, and the column's name. */
  readonly field: string
  readonly type: ColumnType
  /** The value as the driver sends it (dates as ISO strings, bigints as decimal strings). */
  encode(value: unknown): unknown
}

/** How one projection's rows sit in a table: its key, its JSON row and its filterable columns. */
export interface RowTable {
  /** The row field that keys a row; its column is `_key`. */
  readonly key: string
  readonly columns: readonly Column[]
  /** The column a filter or order on `field` reads: `_key` for the key, undefined for a field without one. */
  columnOf(field: string): { readonly name: string; readonly type: ColumnType } | undefined
  /** The row as JSON text for the `_row` column (dates as ISO strings, bigints as decimal strings). */
  toJson(row: unknown): string
  /** The row read back from JSON, its dates and bigints restored as the schema declares them. */
  fromJson(json: unknown): unknown
}

/**
 * Derives the table of a projection from its zod row schema: every field the gateway lets clients filter or
 * sort on (strings, numbers, booleans, enums, dates) gets a column of its SQL type; objects, arrays and
 * records live in the JSON row only.
 */
export function rowTable(schema: z.ZodObject, key: string): RowTable {
  const columns: Column[] = []
  const shape: Readonly<Record<string, z.ZodType>> = schema.shape
  for (const [field, fieldSchema] of Object.entries(shape)) {
    if (field === '_key' || field === '_row') {
      throw new AnnalsError(
        'BAD_CONFIG',
        `A row field cannot be named ${field} in PostgreSQL (a column of its own)`,
      )
    }
    if (field === key) continue
    const type = columnType(inspectZod(fieldSchema, 'output').base)
    if (type) columns.push({ field, type, encode: encoderOf(type) })
  }
  const byField = new Map(columns.map((column) => [column.field, { name: column.field, type: column.type }]))
  const decode = decoderOf(schema)
  return {
    key,
    columns,
    columnOf: (field) => (field === key ? { name: '_key', type: 'text' } : byField.get(field)),
    toJson: (row) => JSON.stringify(row, jsonReplacer),
    fromJson: decode ?? ((json) => json),
  }
}

/** Encodes a filter value for a column of `type`, as the driver must send it. */
export function encoderOf(type: ColumnType): (value: unknown) => unknown {
  switch (type) {
    case 'timestamptz':
      return (value) => (value instanceof Date ? value.toISOString() : (value ?? null))
    case 'numeric':
    case 'text':
      return (value) =>
        value === undefined || value === null ? null : `${value as string | number | bigint}`
    default:
      return (value) => value ?? null
  }
}

function columnType(base: z.ZodType): ColumnType | undefined {
  const def = defOf(base)
  switch (def.type) {
    case 'string':
    case 'template_literal':
      return 'text'
    case 'number':
    case 'nan':
      return 'float8'
    case 'boolean':
      return 'boolean'
    case 'date':
      return 'timestamptz'
    case 'bigint':
      return 'numeric'
    case 'literal':
      return typeOfValues(def.values as readonly unknown[])
    case 'enum':
      return typeOfValues(Object.values(def.entries as Record<string, unknown>)) ?? 'text'
    default:
      return undefined
  }
}

function typeOfValues(values: readonly unknown[]): ColumnType | undefined {
  if (values.every((value) => typeof value === 'string')) return 'text'
  if (values.every((value) => typeof value === 'boolean')) return 'boolean'
  if (values.every((value) => typeof value === 'number')) return 'float8'
  return undefined
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}

type Decoder = (value: unknown) => unknown

/** A decoder that restores dates and bigints where the schema has them; undefined when it has none. */
function decoderOf(schema: z.ZodType, depth = 0): Decoder | undefined {
  if (depth > 32) return undefined
  const { base } = inspectZod(schema, 'output')
  const def = defOf(base)
  switch (def.type) {
    case 'date':
      return (value) => (typeof value === 'string' ? new Date(value) : value)
    case 'bigint':
      return (value) => (typeof value === 'string' ? BigInt(value) : value)
    case 'object': {
      const fields: [string, Decoder][] = []
      for (const [field, fieldSchema] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        const decode = decoderOf(fieldSchema, depth + 1)
        if (decode) fields.push([field, decode])
      }
      if (fields.length === 0) return undefined
      return (value) => {
        if (value === null || typeof value !== 'object') return value
        const object = value as Record<string, unknown>
        for (const [field, decode] of fields) if (field in object) object[field] = decode(object[field])
        return object
      }
    }
    case 'array': {
      const decode = decoderOf(def.element as z.ZodType, depth + 1)
      return decode && ((value) => (Array.isArray(value) ? value.map(decode) : value))
    }
    case 'record': {
      const decode = decoderOf(def.valueType as z.ZodType, depth + 1)
      return (
        decode &&
        ((value) => {
          if (value === null || typeof value !== 'object') return value
          const object = value as Record<string, unknown>
          for (const field in object) object[field] = decode(object[field])
          return object
        })
      )
    }
    default:
      return undefined
  }
}
