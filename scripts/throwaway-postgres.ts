/**
 * A PostgreSQL server for one run, in a temporary folder, on a free loopback port, stopped and deleted at
 * the end: for the tests, the benchmarks and `npm run cluster` on a machine that has the server binaries
 * (`pg_config --bindir`, or PG_BINDIR). As root, the server runs as the `postgres` user, as it must.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, chownSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface ThrowawayPostgres {
  /** A postgres:// connection string for the database `annals`. */
  readonly url: string
  readonly port: number
  /** Stops the server and keeps its data: clients see the database down until `restart`. */
  halt(): Promise<void>
  /** Starts the halted server again on the same port and data. */
  restart(): Promise<void>
  stop(): Promise<void>
}

export interface ThrowawayPostgresOptions {
  /** Durable commits (fsync) as in production; off by default, which tests do not need. */
  readonly durable?: boolean
}

/** The folder of initdb and postgres, or undefined when this machine has no PostgreSQL server. */
export function postgresBinaries(): string | undefined {
  let bindir = process.env['PG_BINDIR']
  if (bindir === undefined) {
    try {
      bindir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
    } catch {
      return undefined
    }
  }
  return existsSync(join(bindir, 'initdb')) && existsSync(join(bindir, 'postgres')) ? bindir : undefined
}

/** Starts a throwaway server; undefined when the binaries are absent. */
export async function startThrowawayPostgres(
  options: ThrowawayPostgresOptions = {},
): Promise<ThrowawayPostgres | undefined> {
  const bindir = postgresBinaries()
  if (bindir === undefined) return undefined
  const dir = mkdtempSync(join(tmpdir(), 'annals-pg-'))
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined
  if (owner) chownSync(dir, owner.uid, owner.gid)
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {}
  execFileSync(
    join(bindir, 'initdb'),
    ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { ...as, stdio: 'ignore', cwd: dir },
  )
  const port = await freePort()
  const settings = options.durable
    ? []
    : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
  let log = ''
  const launch = () => {
    const child: ChildProcess = spawn(
      join(bindir, 'postgres'),
      [
        '-D',
        join(dir, 'data'),
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        ...settings,
      ],
      { ...as, stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
    )
    child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4_000)))
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    return { child, exited }
  }
  let server = launch()
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`
  try {
    await untilAccepting(admin, server.exited)
    const client = new pg.Client(admin)
    await client.connect()
    await client.query('create database annals')
    await client.end()
  } catch (error) {
    server.child.kill('SIGKILL')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`PostgreSQL did not start: ${String(error)}\n${log}`)
  }
  // SIGINT is PostgreSQL's fast shutdown: open sessions are ended, nothing is waited for.
  const halt = async () => {
    const { child, exited } = server
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
    await exited
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/annals`,
    port,
    halt,
    async restart() {
      server = launch()
      await untilAccepting(admin, server.exited)
    },
    async stop() {
      await halt()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function postgresUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
  return { uid, gid }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/** Connects until the server accepts (bounded: 30 s), or fails at once if it exited. */
async function untilAccepting(url: string, exited: Promise<void>): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + 30_000
  for (;;) {
    if (gone) throw new Error('the server exited')
    const client = new pg.Client(url)
    try {
      await client.connect()
      await client.end()
      return
    } catch (error) {
      await client.end().catch(() => {})
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
