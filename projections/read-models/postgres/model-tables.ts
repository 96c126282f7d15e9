import { createHash, randomBytes } from 'node:crypto'
import type pg from 'pg'
import type { ProjectionDefinition } from '../../define-projection.ts'
import type { HeldKey } from '../read-model-store.ts'
import { quote } from './list-sql.ts'
import type { RowTable } from './row-table.ts'

/** The PostgreSQL schema the read models live in (default `annals`). */
export interface ModelSchema {
  readonly name: string
}

/** The channel every commit notifies, so that every replica learns of it without polling. */
export const NOTIFY_CHANNEL = 'annals_read_models'

/** A model's table as a store opens it: where it stands, and whether another definition built it. */
export interface OpenedModel {
  readonly table: string
  readonly position: bigint
  readonly version: number
  readonly held: readonly HeldKey[]
  /** Built by an older (or other) definition: rebuild it; by a newer version: leave it alone. */
  readonly stale: 'older' | 'newer' | undefined
}

const prepared = new WeakMap<pg.Pool, Map<string, Promise<void>>>()

/**
 * The tables every model shares, created once per database: `models` (each projection's live table, its
 * lease and fence, and where its change feed starts), `checkpoints` (one per table: position, held keys,
 * the version and columns it was built with) and `changes` (the durable change feed).
 */
export function ensureSchema(pool: pg.Pool, schema: ModelSchema): Promise<void> {
  let bySchema = prepared.get(pool)
  if (!bySchema) prepared.set(pool, (bySchema = new Map<string, Promise<void>>()))
  let done = bySchema.get(schema.name)
  if (!done) {
    const s = quote(schema.name)
    done = inTransaction(pool, `annals-schema:${schema.name}`, async (client) => {
      await client.query(`create schema if not exists ${s}`)
      await client.query(`create table if not exists ${s}.models (
        name text primary key,
        table_name text,
        owner text,
        fence bigint not null default 0,
        lease_until timestamptz,
        changes_from bigint not null default 0
      )`)
      await client.query(`create table if not exists ${s}.checkpoints (
        table_name text primary key,
        projection text not null,
        version integer not null,
        shape text not null,
        position bigint not null default 0,
        held jsonb not null default '[]',
        caught_up boolean not null default false
      )`)
      await client.query(`create table if not exists ${s}.changes (
        projection text not null,
        seq bigint generated always as identity,
        position bigint not null,
        key text not null,
        kind text not null,
        "row" jsonb,
        previous jsonb,
        late boolean not null default false,
        traceparent text,
        primary key (projection, seq)
      )`)
      // A schema created before the column: the traceparent of a change's event, for its frames' spans.
      await client.query(`alter table ${s}.changes add column if not exists traceparent text`)
    })
    done.catch(() => bySchema.delete(schema.name))
    bySchema.set(schema.name, done)
  }
  return done
}

/**
 * Opens the table of a projection, creating it on the first start. The live role opens the table the
 * model's view reads (whatever built it: `stale` says whether it must be rebuilt); a shadow opens a table of
 * its own, resuming one a rebuild left unfinished when it was built with the same definition.
 */
export async function createModelTable(
  pool: pg.Pool,
  schema: ModelSchema,
  definition: ProjectionDefinition<unknown>,
  rows: RowTable,
  role: 'live' | 'shadow',
  known: string | undefined,
): Promise<OpenedModel> {
  await ensureSchema(pool, schema)
  const s = quote(schema.name)
  const shape = shapeOf(definition, rows)
  return inTransaction(pool, `annals-model:${schema.name}:${definition.name}`, async (client) => {
    await client.query(`insert into ${s}.models (name) values ($1) on conflict do nothing`, [definition.name])
    const model = await client.query(`select table_name from ${s}.models where name = $1`, [definition.name])
    const live = (model.rows[0] as { table_name: string | null }).table_name
    let table: string | undefined
    if (role === 'live') table = live ?? undefined
    else {
      // A shadow this process opened before, or one a rebuild left unfinished with the same definition.
      const unfinished = await client.query(
        `select table_name from ${s}.checkpoints
         where projection = $1 and table_name <> coalesce($2, '') and version = $3 and shape = $4
         order by (table_name = $5) desc limit 1`,
        [definition.name, live, definition.version, shape, known ?? ''],
      )
      table = (unfinished.rows[0] as { table_name: string } | undefined)?.table_name
    }
    if (table === undefined) {
      table = `${definition.name.slice(0, 40)}_v${definition.version}_${randomBytes(4).toString('hex')}`
      await createTable(client, schema, table, rows)
      await client.query(
        `insert into ${s}.checkpoints (table_name, projection, version, shape) values ($1, $2, $3, $4)`,
        [table, definition.name, definition.version, shape],
      )
      if (role === 'live') {
        await client.query(`update ${s}.models set table_name = $2 where name = $1`, [definition.name, table])
        await pointView(client, schema, definition.name, table)
      }
    }
    const checkpoint = await client.query(
      `select position, version, shape, held from ${s}.checkpoints where table_name = $1`,
      [table],
    )
    const found = checkpoint.rows[0] as {
      position: string
      version: number
      shape: string
      held: StoredHeld[]
    }
    return {
      table,
      position: BigInt(found.position),
      version: found.version,
      held: found.held.map(heldFromJson),
      stale:
        found.version > definition.version
          ? 'newer'
          : found.version !== definition.version || found.shape !== shape
            ? 'older'
            : undefined,
    }
  })
}

/**
 * Makes `shadow` the table the model's view reads, in one transaction under the model's fence, drops the
 * table it replaces, and starts the change feed over at the shadow's position. False when fenced.
 */
export async function switchModelTable(
  pool: pg.Pool,
  schema: ModelSchema,
  options: {
    readonly name: string
    readonly fence: bigint
    readonly current: string
    readonly shadow: string
  },
): Promise<boolean> {
  const s = quote(schema.name)
  return inTransaction(pool, `annals-model:${schema.name}:${options.name}`, async (client) => {
    const fenced = await client.query(`select 1 from ${s}.models where name = $1 and fence = $2 for update`, [
      options.name,
      options.fence.toString(),
    ])
    if (fenced.rowCount !== 1) return false
    await pointView(client, schema, options.name, options.shadow)
    const position = await client.query(`select position, held from ${s}.checkpoints where table_name = $1`, [
      options.shadow,
    ])
    const at = (position.rows[0] as { position: string }).position
    await client.query(`update ${s}.models set table_name = $2, changes_from = $3 where name = $1`, [
      options.name,
      options.shadow,
      at,
    ])
    await client.query(`delete from ${s}.changes where projection = $1`, [options.name])
    await client.query(`drop table if exists ${s}.${quote(options.current)}`)
    await client.query(`delete from ${s}.checkpoints where table_name = $1`, [options.current])
    const payload = { n: options.name, t: options.shadow, p: at, s: at, h: true, c: true, f: at, k: 0 }
    await client.query(`select pg_notify('${NOTIFY_CHANNEL}', $1)`, [JSON.stringify(payload)])
    return true
  })
}

async function createTable(client: pg.PoolClient, schema: ModelSchema, table: string, rows: RowTable) {
  const qualified = `${quote(schema.name)}.${quote(table)}`
  const columns = rows.columns.map(
    (column) => `${quote(column.field)} ${column.type}${column.type === 'text' ? ' collate "C"' : ''}`,
  )
  await client.query(
    `create table ${qualified} ("_key" text collate "C" primary key, "_row" jsonb not null${columns.map((c) => `, ${c}`).join('')})`,
  )
  for (const column of rows.columns) {
    // With the key after it: a filter, an order by it and its cursor read the index alone.
    await client.query(`create index on ${qualified} (${quote(column.field)}, "_key")`)
  }
}

async function pointView(client: pg.PoolClient, schema: ModelSchema, name: string, table: string) {
  const view = `${quote(schema.name)}.${quote(name)}`
  await client.query(`drop view if exists ${view}`)
  await client.query(`create view ${view} as select * from ${quote(schema.name)}.${quote(table)}`)
}

/** What the table was built from: a change of version or of columns means a rebuild. */
function shapeOf(definition: ProjectionDefinition<unknown>, rows: RowTable): string {
  const columns = rows.columns.map((column) => `${column.field}:${column.type}`)
  return createHash('sha256')
    .update(JSON.stringify([definition.key, columns]))
    .digest('hex')
    .slice(0, 16)
}

interface StoredHeld {
  readonly key: string
  readonly position: string
  readonly after: string
}

export function heldFromJson(held: StoredHeld): HeldKey {
  return { key: held.key, position: BigInt(held.position), after: BigInt(held.after) }
}

/** Runs `work` in one transaction, serialized with every other holder of `lock` across replicas. */
export async function inTransaction<T>(
  pool: pg.Pool,
  lock: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [lock])
    const result = await work(client)
    await client.query('commit')
    return result
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
