import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { ListQuery } from '../../../framework/index.ts'
import type { ProjectionDefinition } from '../../define-projection.ts'
import type { Checkpoint, HeldKey, ReadModelStore, RowBatch, StoredPage } from '../read-model-store.ts'
import { encodeCursor } from '../row-query.ts'
import { listSql, quote } from './list-sql.ts'
import { asStoreError, FencedError } from './postgres-errors.ts'
import { createModelTable, NOTIFY_CHANNEL, type ModelSchema } from './model-tables.ts'
import { rowTable, type RowTable } from './row-table.ts'

/**
 * From this many new rows a commit COPYs them in, in a transaction around the statement: PostgreSQL then
 * inserts them in bulk, a page at a time, where an insert from a query goes row by row (a catch-up's batches).
 */
const COPY_FROM_ROWS = 500

/** The lease under which a replica commits: a commit whose fence is no longer the model's is refused. */
export interface Fence {
  readonly fence: bigint
}

export interface PostgresStoreOptions {
  readonly pool: pg.Pool
  readonly schema: ModelSchema
  readonly definition: ProjectionDefinition<unknown>
  /** A shadow is built in a table of its own while the live one serves, and switched in by the database. */
  readonly role: 'live' | 'shadow'
  /** The lease the commits run under; a store without one refuses to commit. */
  fence(): Fence | undefined
  readonly maxPageSize?: number
  readonly defaultPageSize?: number
}

/** A read-model store in one table of PostgreSQL, its checkpoint a row of `checkpoints`. */
export interface PostgresReadModelStore<TRow> extends ReadModelStore<TRow> {
  readonly role: 'live' | 'shadow'
  readonly definition: ProjectionDefinition<unknown>
  /** The table the store writes (resolved on open: the live one changes when a rebuild switches in). */
  readonly table: string | undefined
  readonly rows: RowTable
}

/**
 * Creates the store of one projection in PostgreSQL. The engine's batch commits as ONE statement: it checks
 * the fence of the model's lease, moves the checkpoint and its held keys, upserts and deletes the rows, keeps
 * the changes for the feed and notifies every replica, all or nothing. Reads go through the model's view, so
 * that a rebuild's switch is atomic for every reader.
 */
export function createPostgresReadModelStore<TRow>(
  options: PostgresStoreOptions,
): PostgresReadModelStore<TRow> {
  const { pool, schema, definition, role } = options
  const rows = rowTable(definition.schema, definition.key)
  const view = `${quote(schema.name)}.${quote(definition.name)}`
  const pageSize = { defaultSize: options.defaultPageSize ?? 100, maxSize: options.maxPageSize ?? 1_000 }
  let table: string | undefined
  /** The held keys of the last commit: a batch that keeps them still reports the settled position. */
  let held: readonly HeldKey[] = []
  let commitSql: string | undefined

  const qualified = () => `${quote(schema.name)}.${quote(table!)}`

  async function query(text: string, values: unknown[] = []) {
    try {
      return await pool.query(text, values)
    } catch (error) {
      throw asStoreError(error, definition.name)
    }
  }

  const store: PostgresReadModelStore<TRow> = {
    role,
    definition,
    rows,
    get table() {
      return table
    },
    async open(): Promise<Checkpoint> {
      const model = await createModelTable(pool, schema, definition, rows, role, table).catch(
        (error: unknown) => {
          throw asStoreError(error, definition.name)
        },
      )
      table = model.table
      held = model.held
      commitSql = undefined
      return { position: model.position, version: model.version, held: model.held, stale: model.stale }
    },
    async load(keys) {
      if (table === undefined) await store.open()
      const result = await query(
        `select "_key", "_row" from ${qualified()} where "_key" in (select jsonb_array_elements_text($1::jsonb))`,
        [JSON.stringify(keys)],
      )
      const found = new Map<string, TRow>()
      for (const row of result.rows as { _key: string; _row: unknown }[]) {
        found.set(row._key, rows.fromJson(row._row) as TRow)
      }
      return found
    },
    async commit(batch) {
      if (table === undefined) await store.open()
      const lease = options.fence()
      if (lease === undefined) throw new FencedError(definition.name)
      const nextHeld = batch.held ?? held
      const { values, inserts } = commitValues(batch, lease, nextHeld)
      const copied = inserts.length >= COPY_FROM_ROWS
      values[9] = copied ? '[]' : insertsJson(inserts)
      const committed = copied
        ? await commitCopying(values, inserts)
        : isCommitted(await query((commitSql ??= buildCommitSql()), values))
      if (!committed) throw new FencedError(definition.name)
      held = nextHeld
    },
    async get(key) {
      const result = await query(`select "_row" from ${view} where "_key" = $1`, [key])
      const found = result.rows[0] as { _row: unknown } | undefined
      return found === undefined ? undefined : (rows.fromJson(found._row) as TRow)
    },
    async list(listQuery: ListQuery): Promise<StoredPage<TRow>> {
      const sql = listSql(view, rows, listQuery, pageSize)
      const result = await query(sql.text, sql.values)
      const page = (result.rows as { _row: unknown }[])
        .slice(0, sql.size)
        .map((row) => rows.fromJson(row._row) as TRow)
      const last = page[page.length - 1] as Readonly<Record<string, unknown>> | undefined
      return {
        rows: page,
        endCursor: last ? encodeCursor(last, listQuery.orderBy ?? [], definition.key) : undefined,
        hasNextPage: result.rows.length > sql.size,
      }
    },
    async clear() {
      if (table === undefined) await store.open()
      const lease = options.fence()
      if (lease === undefined) throw new FencedError(definition.name)
      const client = await pool.connect().catch((error: unknown) => {
        throw asStoreError(error, definition.name)
      })
      try {
        await client.query('begin')
        const fenced = await client.query(
          `select 1 from ${quote(schema.name)}.models where name = $1 and fence = $2 for update`,
          [definition.name, lease.fence.toString()],
        )
        if (fenced.rowCount !== 1) throw new FencedError(definition.name)
        await client.query(`truncate ${qualified()}`)
        await client.query(
          `update ${quote(schema.name)}.checkpoints set position = 0, held = '[]', caught_up = false where table_name = $1`,
          [table],
        )
        if (role === 'live') {
          await client.query(`delete from ${quote(schema.name)}.changes where projection = $1`, [
            definition.name,
          ])
        }
        await client.query('commit')
        held = []
      } catch (error) {
        await client.query('rollback').catch(() => {})
        throw asStoreError(error, definition.name)
      } finally {
        client.release()
      }
    },
  }

  /** Commits in a transaction of its own, COPYing the new rows in after the statement; false when fenced out. */
  async function commitCopying(values: unknown[], inserts: readonly NewRow<TRow>[]): Promise<boolean> {
    const client = await pool.connect().catch((error: unknown) => {
      throw asStoreError(error, definition.name)
    })
    let broken = false
    try {
      await client.query('begin')
      if (!isCommitted(await client.query((commitSql ??= buildCommitSql()), values))) {
        await client.query('rollback')
        return false
      }
      const columns = ['"_key"', '"_row"', ...rows.columns.map((column) => quote(column.field))]
      const copy = client.query(copyFrom(`copy ${qualified()} (${columns.join(', ')}) from stdin`))
      await pipeline(Readable.from(copyLines(inserts)), copy)
      await client.query('commit')
      return true
    } catch (error) {
      // A connection left mid-COPY is not given back to the pool.
      await client.query('rollback').catch(() => (broken = true))
      throw asStoreError(error, definition.name)
    } finally {
      client.release(broken)
    }
  }

  /** The new rows as COPY's text format, each column as the JSON path's `->>` would give it. */
  function* copyLines(inserts: readonly NewRow<TRow>[]): Generator<string> {
    let chunk = ''
    for (const [key, row] of inserts) {
      const record = row as Record<string, unknown>
      chunk += `${copyText(key)}\t${copyText(rows.toJson(row))}`
      for (const column of rows.columns) {
        const value = column.encode(record[column.field])
        const text = typeof value === 'string' ? value : JSON.stringify(value ?? null)
        chunk += text === 'null' && typeof value !== 'string' ? '\t\\N' : `\t${copyText(text)}`
      }
      chunk += '\n'
      if (chunk.length >= 1 << 16) {
        yield chunk
        chunk = ''
      }
    }
    if (chunk !== '') yield chunk
  }

  /** New rows as the statement's JSON document: [key, row, ...columns] each. */
  function insertsJson(inserts: readonly NewRow<TRow>[]): string {
    return `[${inserts.map(([key, row]) => rowJson(key, row)).join(',')}]`
  }

  function rowJson(key: string, row: TRow): string {
    const record = row as Record<string, unknown>
    let item = `[${JSON.stringify(key)},${rows.toJson(row)}`
    for (const column of rows.columns)
      item += `,${JSON.stringify(column.encode(record[column.field]) ?? null)}`
    return `${item}]`
  }

  function commitValues(
    batch: RowBatch<TRow>,
    lease: Fence,
    nextHeld: readonly HeldKey[],
  ): { values: unknown[]; inserts: NewRow<TRow>[] } {
    // Rows go as JSON documents, each row [key, row, ...columns]: PostgreSQL parses them far faster than
    // arrays. A row the store held as the batch began is updated in place; any other is new, and a plain insert
    // (no conflict check: a third of the cost) is safe, since only the lease holder writes. New and updated rows
    // go apart, so each document is parsed once (a catch-up's updates are few, often none).
    const inserts: NewRow<TRow>[] = []
    const updates: string[] = []
    const deleted: string[] = []
    for (const [key, row] of batch.writes) {
      if (row === undefined) deleted.push(key)
      else if (batch.stored.has(key)) updates.push(rowJson(key, row))
      else inserts.push([key, row])
    }
    const live = role === 'live'
    const changes = live ? batch.changes : []
    const settled = settledOf(nextHeld, batch.position)
    const payload = JSON.stringify({
      n: definition.name,
      t: table,
      p: batch.position.toString(),
      s: settled.toString(),
      h: nextHeld.length > 0,
      c: batch.caughtUp,
      f: live && batch.changesSkipped ? batch.position.toString() : undefined,
      k: changes.length,
    })
    const changed = changes.map(({ change, late }) => {
      const row = change.kind === 'deleted' ? 'null' : rows.toJson(change.row)
      const previous = change.kind === 'created' ? 'null' : rows.toJson(change.previous)
      const traceparent = change.traceparent === undefined ? 'null' : JSON.stringify(change.traceparent)
      return `[${JSON.stringify(change.position.toString())},${JSON.stringify(change.key)},"${change.kind}",${row},${previous},${late},${traceparent}]`
    })
    const values = [
      definition.name,
      lease.fence.toString(),
      table,
      batch.position.toString(),
      batch.held === undefined ? null : JSON.stringify(nextHeld.map(heldToJson)),
      batch.version,
      batch.caughtUp,
      live && batch.changesSkipped,
      live ? payload : null,
      // The new rows ($10): set by the caller, in this document or COPYed in.
      undefined,
      JSON.stringify(deleted),
      `[${changed.join(',')}]`,
      `[${updates.join(',')}]`,
    ]
    return { values, inserts }
  }

  function buildCommitSql(): string {
    const s = quote(schema.name)
    const names = rows.columns.map((column) => quote(column.field))
    const values = ['e->>0', 'e->1', ...rows.columns.map((column, i) => `(e->>${i + 2})::${column.type}`)]
    const set = ['"_row" = e->1', ...names.map((name, i) => `${name} = ${values[i + 2]!}`)].join(', ')
    return `with fenced as (
  -- A share lock: a replica taking the lease over waits for this commit, then reads the checkpoint it left.
  select 1 from ${s}.models where name = $1::text and fence = $2::bigint for share
), cp as (
  update ${s}.checkpoints
  set position = $4::bigint, held = coalesce($5::jsonb, held), version = $6, caught_up = caught_up or $7::boolean
  where table_name = $3::text and exists (select 1 from fenced)
  returning 1
), inserted as (
  insert into ${qualified()} ("_key", "_row"${names.map((name) => `, ${name}`).join('')})
  select ${values.join(', ')} from jsonb_array_elements($10::jsonb) e
  where exists (select 1 from cp)
), updated as (
  update ${qualified()} t set ${set}
  from jsonb_array_elements($13::jsonb) e
  where t."_key" = e->>0 and exists (select 1 from cp)
), deleted as (
  delete from ${qualified()} where "_key" in (select jsonb_array_elements_text($11::jsonb)) and exists (select 1 from cp)
), changed as (
  insert into ${s}.changes (projection, position, key, kind, "row", previous, late, traceparent)
  select $1::text, (c.e->>0)::bigint, c.e->>1, c.e->>2, nullif(c.e->3, 'null'::jsonb),
    nullif(c.e->4, 'null'::jsonb), (c.e->>5)::boolean, c.e->>6
  from jsonb_array_elements($12::jsonb) with ordinality as c(e, n)
  where exists (select 1 from cp) order by c.n
), expired as (
  update ${s}.models set changes_from = $4::bigint where name = $1::text and $8::boolean and exists (select 1 from cp)
), notified as (
  select pg_notify('${NOTIFY_CHANNEL}', $9::text) from cp where $9::text is not null
)
select (select count(*) from cp) as committed, (select count(*) from notified) as notified`
  }

  return store
}

function heldToJson(key: HeldKey) {
  return { key: key.key, position: key.position.toString(), after: key.after.toString() }
}

/** Just before the oldest held position at or before `position`; `position` when none is. */
export function settledOf(held: readonly HeldKey[], position: bigint): bigint {
  let oldest: bigint | undefined
  for (const { position: first } of held) if (oldest === undefined || first < oldest) oldest = first
  return oldest !== undefined && oldest <= position ? oldest - 1n : position
}

/** A row the commit inserts: its key and the row. */
type NewRow<TRow> = readonly [key: string, row: TRow]

function isCommitted(result: pg.QueryResult): boolean {
  return Number((result.rows[0] as { committed: string }).committed) === 1
}

/** Text as a column of COPY's text format carries it. */
function copyText(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n').replaceAll('\r', '\\r')
    : text
}
