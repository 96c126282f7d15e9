import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'

/** The run's throwaway PostgreSQL server ('' where this machine has no PostgreSQL binaries). */
export const postgresUrl = inject('postgresUrl')

/** The title a suite that needs the server carries where it is skipped. */
export const withoutPostgres = 'skipped: no PostgreSQL server binaries on this machine (pg_config --bindir)'

/** Creates an empty database in the run's server and returns its URL; `drop()` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client(postgresUrl)
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(postgresUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client(postgresUrl)
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
    },
  }
}
