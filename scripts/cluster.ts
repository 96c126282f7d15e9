/**
 * `npm run cluster`: a devstore, a PostgreSQL for the read models, and three replicas on loopback, sharding
 * aggregates between them and sharing the read models, for trying the cluster by hand. Ctrl-C stops them all.
 * The read models go to DATABASE_URL when it is set, else to a throwaway PostgreSQL server where this machine
 * has the binaries (deleted on exit), else each replica keeps its own copy in memory.
 *
 *   npm run cluster -- [--entry example-app/main.ts] [--replicas 3] [--port 4001] [--data-dir .annals/cluster]
 *
 * Each replica runs the entry with PORT, ANNALS_PEERS, ANNALS_SELF_URL, ANNALS_CLUSTER_SECRET,
 * EVENTSTORE_URL and DATABASE_URL set; extra ANNALS_* variables in this shell pass through (e.g. ANNALS_PROBE_INTERVAL_MS).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createDevStore } from 'annals/devstore'
import { startThrowawayPostgres } from './throwaway-postgres.ts'

const { values } = parseArgs({
  options: {
    entry: { type: 'string', default: process.env['ANNALS_CLUSTER_ENTRY'] ?? 'example-app/main.ts' },
    replicas: { type: 'string', default: '3' },
    port: { type: 'string', default: '4001' },
    'data-dir': { type: 'string', default: '.annals/cluster' },
    'in-memory': { type: 'boolean', default: false },
  },
})
const count = Number(values.replicas)
const basePort = Number(values.port)
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(basePort)) {
  console.error(
    'usage: npm run cluster -- [--entry FILE] [--replicas N] [--port FIRST_PORT] [--data-dir DIR]',
  )
  process.exit(2)
}

const devstore = await createDevStore(
  values['in-memory'] ? {} : { dataDir: resolve(values['data-dir'], 'devstore') },
)
const postgres = process.env['DATABASE_URL'] ? undefined : await startThrowawayPostgres()
const databaseUrl = process.env['DATABASE_URL'] ?? postgres?.url
const urls = Array.from({ length: count }, (_, i) => `http://127.0.0.1:${basePort + i}`)
const secret = process.env['ANNALS_CLUSTER_SECRET'] ?? randomBytes(24).toString('hex')
const children = new Map<string, ChildProcess>()
let stopping = false

for (const [index, url] of urls.entries()) start(index, url)
console.log(`devstore  ${devstore.connectionString}`)
console.log(`read models ${databaseUrl ?? 'in memory, a copy per replica (no PostgreSQL binaries here)'}`)
for (const url of urls) console.log(`replica   ${url}/graphql`)
console.log('Ctrl-C stops them all.')

process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

function start(index: number, url: string) {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', values.entry], {
    env: {
      ...process.env,
      PORT: new URL(url).port,
      HOST: '127.0.0.1',
      ANNALS_PEERS: urls.join(','),
      ANNALS_SELF_URL: url,
      ANNALS_CLUSTER_SECRET: secret,
      EVENTSTORE_URL: devstore.connectionString,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const prefix = `[replica-${index + 1}] `
  const forward = (target: NodeJS.WriteStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line !== '') target.write(prefix + line + '\n')
  }
  child.stdout.on('data', forward(process.stdout))
  child.stderr.on('data', forward(process.stderr))
  child.on('exit', (code, signal) => {
    children.delete(url)
    if (!stopping) console.error(`${prefix}exited (${signal ?? code}); the others carry on`)
  })
  children.set(url, child)
}

async function stop() {
  if (stopping) return
  stopping = true
  console.log('\nstopping…')
  // SIGTERM lets each replica leave the ring and drain; a replica that hangs is killed after the grace.
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((done) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
          child.once('exit', () => {
            clearTimeout(timer)
            done()
          })
          child.kill('SIGTERM')
        }),
    ),
  )
  await devstore.close()
  await postgres?.stop()
  process.exit(0)
}
