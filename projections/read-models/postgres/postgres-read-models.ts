import pg from 'pg'
import type { RowChange } from '../../../framework/index.ts'
import type { ProjectionDefinition } from '../../define-projection.ts'
import type {
  ReadModelDatabase,
  SharedCheckpoint,
  SharedReadModels,
  StoredChange,
} from '../read-model-database.ts'
import type { ReadModelStore } from '../read-model-store.ts'
import { pause, retryDelay } from '../../../framework/internal.ts'
import { quote } from './list-sql.ts'
import {
  ensureSchema,
  heldFromJson,
  NOTIFY_CHANNEL,
  switchModelTable,
  type ModelSchema,
} from './model-tables.ts'
import { asStoreError } from './postgres-errors.ts'
import { createPostgresReadModelStore, type PostgresReadModelStore } from './postgres-read-model-store.ts'

export interface PostgresReadModelsOptions {
  /** A postgres:// connection string; or pass `pool`. */
  readonly url?: string
  /** A pool the application owns (left open on close). */
  readonly pool?: pg.Pool
  /** The schema the models live in. Default `annals`. */
  readonly schema?: string
  /** Connections in the pool. Default 8. */
  readonly poolSize?: number
  /** How long a replica's lease on a projection lasts unrenewed: the longest a dead owner holds it. Default 10 s. */
  readonly leaseMs?: number
  /** The largest page a list returns. Default 1,000. */
  readonly maxPageSize?: number
}

/**
 * Keeps the read models in PostgreSQL, shared by every replica of the service: one table per projection
 * (behind a view named after it), checkpoints, held keys and the change feed beside them, a lease per
 * projection so that one replica at a time runs it, and a notification per commit so that every replica
 * learns where each model stands without polling.
 *
 * @example
 * createReadSide({ projections, database: createPostgresReadModels({ url: process.env.DATABASE_URL }) })
 */
export function createPostgresReadModels(options: PostgresReadModelsOptions): ReadModelDatabase {
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 8,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    })
  // An idle connection the server dropped must not crash the process: the next query reports it.
  pool.on('error', () => {})
  const clientConfig: pg.ClientConfig =
    options.url === undefined
      ? (pool as unknown as { options: pg.ClientConfig }).options
      : { connectionString: options.url }
  const schema: ModelSchema = { name: options.schema ?? 'annals' }
  const s = quote(schema.name)
  const leaseMs = options.leaseMs ?? 10_000
  const fences = new Map<string, bigint>()
  /** How each model's rows read back from JSON, for its change feed. */
  const codecs = new Map<string, (json: unknown) => unknown>()
  let listener: pg.Client | undefined
  let closed = false

  async function query(text: string, values: unknown[] = []) {
    try {
      await ensureSchema(pool, schema)
      return await pool.query(text, values)
    } catch (error) {
      throw asStoreError(error, 'read models')
    }
  }

  const shared: SharedReadModels = {
    leaseMs,
    async acquire(name, replica) {
      await query(`insert into ${s}.models (name) values ($1) on conflict do nothing`, [name])
      const result = await query(
        `update ${s}.models set owner = $2, fence = fence + 1, lease_until = now() + $3 * interval '1 millisecond'
         where name = $1 and (owner is null or owner = $2 or lease_until is null or lease_until < now())
         returning fence`,
        [name, replica, leaseMs],
      )
      const row = result.rows[0] as { fence: string } | undefined
      if (row === undefined) return undefined
      const fence = BigInt(row.fence)
      fences.set(name, fence)
      return fence
    },
    async renew(name, replica, fence) {
      const result = await query(
        `update ${s}.models set lease_until = now() + $4 * interval '1 millisecond'
         where name = $1 and owner = $2 and fence = $3`,
        [name, replica, fence.toString(), leaseMs],
      )
      if (result.rowCount === 1) return true
      if (fences.get(name) === fence) fences.delete(name)
      return false
    },
    async release(name, replica, fence) {
      if (fences.get(name) === fence) fences.delete(name)
      await query(
        `update ${s}.models set owner = null, lease_until = null where name = $1 and owner = $2 and fence = $3`,
        [name, replica, fence.toString()],
      )
    },
    async holder(name) {
      const result = await query(`select owner from ${s}.models where name = $1 and lease_until > now()`, [
        name,
      ])
      return (result.rows[0] as { owner: string | null } | undefined)?.owner ?? undefined
    },
    async checkpoints() {
      const result = await query(
        `select m.name, m.table_name, m.changes_from, c.position, c.held, c.caught_up
         from ${s}.models m join ${s}.checkpoints c on c.table_name = m.table_name`,
      )
      return (result.rows as CheckpointRow[]).map(toCheckpoint)
    },
    async heldOf(name) {
      const result = await query(
        `select c.held from ${s}.models m join ${s}.checkpoints c on c.table_name = m.table_name where m.name = $1`,
        [name],
      )
      const held = (result.rows[0] as { held: Parameters<typeof heldFromJson>[0][] } | undefined)?.held ?? []
      return new Map(held.map(heldFromJson).map((entry) => [entry.key, entry.position]))
    },
    async changes(name, from, limit) {
      const decode = codecs.get(name) ?? ((json: unknown) => json)
      const result = await query(
        `select m.changes_from,
           (select coalesce(max(seq), 0) from ${s}.changes where projection = m.name) as head_seq, c.seq, c.position, c.key, c.kind, c."row", c.previous, c.late, c.traceparent
         from ${s}.models m left join lateral (
           select * from ${s}.changes c
           where c.projection = m.name and c.seq > $2
             and (c.position > $3 or (c.late and c.position = $3))
           order by c.seq limit $4
         ) c on true
         where m.name = $1`,
        [name, (from.seq ?? 0n).toString(), (from.position ?? -1n).toString(), limit],
      )
      const rows = result.rows as ChangeRow[]
      const changesFrom = BigInt(rows[0]?.changes_from ?? '0')
      const changes = rows.filter((row) => row.seq !== null).map((row) => toStoredChange(row, decode))
      return { changes, changesFrom, headSeq: BigInt(rows[0]?.head_seq ?? '0') }
    },
    async prune(name, retention) {
      await query(
        `with cut as (
           select seq, position from ${s}.changes where projection = $1 order by seq desc offset $2 limit 1
         ), gone as (
           delete from ${s}.changes where projection = $1 and seq <= (select seq from cut)
         )
         update ${s}.models set changes_from = greatest(changes_from, (select position from cut))
         where name = $1 and exists (select 1 from cut)`,
        [name, retention],
      )
    },
    listen(onCommit, onState) {
      void follow(onCommit, onState)
    },
    async ping() {
      try {
        await pool.query('select 1')
        return listener !== undefined
      } catch {
        return false
      }
    },
  }

  /** Holds a connection that LISTENs for commits, and opens it again after a failure (with back-off). */
  async function follow(onCommit: (checkpoint: SharedCheckpoint) => void, onState: (up: boolean) => void) {
    const policy = { attempts: Infinity, initialDelayMs: 50, maxDelayMs: 2_000 }
    for (let failures = 0; !closed;) {
      const client = new pg.Client(clientConfig)
      const ended = new Promise<void>((resolve) => {
        client.on('error', () => resolve())
        client.on('end', () => resolve())
      })
      client.on('notification', (message) => {
        if (message.channel !== NOTIFY_CHANNEL || !message.payload) return
        const checkpoint = fromPayload(message.payload)
        if (checkpoint) onCommit(checkpoint)
      })
      try {
        await client.connect()
        await client.query(`listen ${NOTIFY_CHANNEL}`)
        listener = client
        failures = 0
        // Commits made while no connection listened are read back before any new one is reported.
        onState(true)
        await ended
      } catch {
        // The server is down or refused: try again after the back-off.
      }
      if (listener === client) listener = undefined
      await client.end().catch(() => {})
      if (closed) return
      onState(false)
      await pause(retryDelay(policy, ++failures))
    }
  }

  return {
    description: `PostgreSQL${options.url ? ` at ${redact(options.url)}` : ''} (schema ${schema.name})`,
    shared,
    store<TRow>(
      definition: ProjectionDefinition<TRow>,
      role: 'live' | 'shadow' = 'live',
    ): ReadModelStore<TRow> {
      const store = createPostgresReadModelStore<TRow>({
        pool,
        schema,
        definition: definition as ProjectionDefinition<unknown>,
        role,
        fence: () => {
          const fence = fences.get(definition.name)
          return fence === undefined ? undefined : { fence }
        },
        ...(options.maxPageSize === undefined ? {} : { maxPageSize: options.maxPageSize }),
      })
      codecs.set(definition.name, (json) => store.rows.fromJson(json))
      return store
    },
    async switchTo(current, shadow) {
      const from = current as PostgresReadModelStore<unknown>
      const to = shadow as PostgresReadModelStore<unknown>
      const fence = fences.get(to.definition.name)
      const switched =
        fence !== undefined &&
        from.table !== undefined &&
        to.table !== undefined &&
        (await switchModelTable(pool, schema, {
          name: to.definition.name,
          fence,
          current: from.table,
          shadow: to.table,
        }).catch((error: unknown) => {
          throw asStoreError(error, to.definition.name)
        }))
      if (!switched)
        throw asStoreError(new Error(`the lease on ${to.definition.name} was lost`), to.definition.name)
    },
    async close() {
      closed = true
      await listener?.end().catch(() => {})
      if (options.pool === undefined) await pool.end().catch(() => {})
    },
  }
}

interface CheckpointRow {
  readonly name: string
  readonly table_name: string
  readonly changes_from: string
  readonly position: string
  readonly held: Parameters<typeof heldFromJson>[0][]
  readonly caught_up: boolean
}

function toCheckpoint(row: CheckpointRow): SharedCheckpoint {
  const held = new Map(row.held.map(heldFromJson).map((entry) => [entry.key, entry.position]))
  const position = BigInt(row.position)
  let settled = position
  for (const first of held.values()) if (first <= settled) settled = first - 1n
  return {
    name: row.name,
    table: row.table_name,
    position,
    settled,
    held,
    caughtUp: row.caught_up,
    changesFrom: BigInt(row.changes_from),
    changes: 0,
  }
}

/** A commit's notification; undefined for one this version cannot read. */
function fromPayload(payload: string): SharedCheckpoint | undefined {
  try {
    const message = JSON.parse(payload) as {
      n: string
      t: string
      p: string
      s: string
      h: boolean
      c: boolean
      f?: string
      k: number
    }
    return {
      name: message.n,
      table: message.t,
      position: BigInt(message.p),
      settled: BigInt(message.s),
      // Held keys are read from the checkpoint when they matter (a wait on one row behind them).
      held: message.h ? undefined : new Map(),
      caughtUp: message.c,
      ...(message.f === undefined ? {} : { changesFrom: BigInt(message.f) }),
      changes: message.k,
    }
  } catch {
    return undefined
  }
}

interface ChangeRow {
  readonly changes_from: string
  readonly head_seq: string
  readonly seq: string | null
  readonly position: string
  readonly key: string
  readonly kind: RowChange<unknown>['kind']
  readonly row: unknown
  readonly previous: unknown
  readonly late: boolean
  readonly traceparent: string | null
}

function toStoredChange(row: ChangeRow, decode: (json: unknown) => unknown): StoredChange<unknown> {
  const position = BigInt(row.position)
  const base = { key: row.key, position, traceparent: row.traceparent ?? undefined }
  const change: RowChange<unknown> =
    row.kind === 'created'
      ? { kind: 'created', ...base, row: decode(row.row) }
      : row.kind === 'deleted'
        ? { kind: 'deleted', ...base, previous: decode(row.previous) }
        : { kind: 'updated', ...base, row: decode(row.row), previous: decode(row.previous) }
  return { seq: BigInt(row.seq!), change, late: row.late }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'a connection string'
  }
}
