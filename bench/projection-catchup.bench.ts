/**
 * How fast a projection catches up: N events (default 1,000,000: 10,000 batteries, each installed then
 * reporting its charge) are written to a devstore running in a child process; then an in-memory read model
 * is built from the start of the log, against a bare subscribeToAll with the same filter and a no-op handler
 * over the same connection kind, measured in the same run: twice each, alternated, each side at its best.
 * Target: the projection keeps 50% of the bare rate. The notes give each side's CPU per event in this process.
 *
 * Run: npm run bench -- projection-catchup   (PROJECTION_CATCHUP_EVENTS=100000 for a quick look;
 * PROJECTION_CATCHUP_DATA=<dir> keeps the seeded log there and reuses it on the next run of the same count)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { EventStore, EventToAppend } from '../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { batteryStatus } from '../test/projections/battery-fixtures.ts'
import type { Bench, BenchResult } from './run.ts'

const BATTERIES = 10_000
const EVENTS_PER_APPEND = 1_000
const WRITERS = 16

/**
 * A devstore in its own process (so its work is not counted against the client), on a free port, over a
 * fresh temporary directory (removed when it stops) or over `keptDir` (kept, to be opened again).
 */
export async function startDevStoreProcess(
  keptDir?: string,
): Promise<{ connectionString: string; stop(): Promise<void> }> {
  const dataDir = keptDir ?? mkdtempSync(join(tmpdir(), 'annals-bench-'))
  const main = fileURLToPath(new URL('../devstore/main.ts', import.meta.url))
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', main, '--port', '0', '--data', dataDir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: child.stdout! })
  const connectionString = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`the devstore exited with ${code}`)))
  })
  return {
    connectionString,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      if (keptDir === undefined) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/**
 * Writes the events as the client writes large batches: each battery's events in appends of up to
 * EVENTS_PER_APPEND, WRITERS appends in flight at once (the devstore shares one fsync among them).
 */
export async function seed(store: EventStore, events: number): Promise<void> {
  const perBattery = Math.max(2, Math.floor(events / BATTERIES))
  const batteries = Math.ceil(events / perBattery)
  let next = 0
  const writer = async () => {
    while (next < batteries) {
      const b = next++
      const batch: EventToAppend[] = [
        { id: randomUUID(), type: 'BatteryInstalled', data: { siteId: `s${b % 50}`, capacityKwh: 13.5 } },
      ]
      for (let n = 1; n < perBattery; n++) {
        batch.push({ id: randomUUID(), type: 'ChargeReported', data: { percent: (b + n) % 101 } })
      }
      for (let at = 0; at < batch.length; at += EVENTS_PER_APPEND) {
        await store.appendToStream(`Battery-b${b}`, batch.slice(at, at + EVENTS_PER_APPEND))
      }
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, writer))
}

/** One catch-up: its wall time, the CPU time of this process (decoding and folding), the events it saw. */
interface Phase {
  readonly ms: number
  readonly cpuMs: number
  readonly events: number
}

async function timed(run: () => Promise<number>): Promise<Phase> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const events = await run()
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  return { ms, cpuMs: (used.user + used.system) / 1000, events }
}

function bare(store: EventStore, eventTypes: readonly string[]): Promise<Phase> {
  return timed(async () => {
    let events = 0
    const abort = new AbortController()
    for await (const message of store.subscribeToAll({ eventTypes, signal: abort.signal })) {
      if (message.kind === 'event') events++
      else if (message.kind === 'caughtUp') break
    }
    abort.abort()
    return events
  })
}

async function projection(store: EventStore): Promise<Phase> {
  const readSide = await createReadSide({ projections: [batteryStatus({ validateRows: false })] }).create({
    store,
    commands: { execute: () => Promise.reject(new Error('no commands here')) },
  })
  const head = await store.headPosition()
  const phase = await timed(async () => {
    await readSide.start()
    await readSide.sources[0]!.waitFor(head, 600_000)
    return readSide.statuses()[0]!.eventsProcessed
  })
  await readSide.stop()
  return phase
}

const fastest = (phases: readonly Phase[]) =>
  phases.reduce((best, phase) => (phase.ms < best.ms ? phase : best))
const rate = (phase: Phase) => phase.events / (phase.ms / 1000)
const describe = (phases: readonly Phase[]) =>
  phases
    .map(
      (phase) =>
        `${phase.ms.toFixed(0)} ms (CPU ${((phase.cpuMs * 1000) / phase.events).toFixed(1)} µs/event)`,
    )
    .join(' / ')

const benchmark: Bench = {
  name: 'projection-catchup',
  description:
    'catch-up of an in-memory read model from 1,000,000 events on the devstore vs a bare filtered subscribeToAll with a no-op handler',
  run: async (): Promise<BenchResult> => {
    const count = Number(process.env['PROJECTION_CATCHUP_EVENTS'] ?? 1_000_000)
    // A directory to keep the seeded log in and reuse on the next run with the same count (seeding is slow).
    const keptDir = process.env['PROJECTION_CATCHUP_DATA']
    const seededMarker = keptDir && join(keptDir, `seeded-${count}`)
    const reuse = seededMarker !== undefined && seededMarker !== '' && existsSync(seededMarker)
    if (keptDir) {
      mkdirSync(keptDir, { recursive: true })
      const other = readdirSync(keptDir).find(
        (name) => name.startsWith('seeded-') && name !== `seeded-${count}`,
      )
      if (other) throw new Error(`${keptDir} holds a log of another size (${other}); use another directory`)
    }
    const devStore = await startDevStoreProcess(keptDir || undefined)
    const store = createEventStoreDbStore(devStore.connectionString)
    try {
      const seeding = performance.now()
      if (!reuse) await seed(store, count)
      if (seededMarker) writeFileSync(seededMarker, '')
      const seedMs = performance.now() - seeding
      const types = batteryStatus().eventTypes
      // Alternated and each taken at its best, so that a burst of load on the shared machine favours neither.
      const bares: Phase[] = []
      const projections: Phase[] = []
      for (let round = 0; round < 2; round++) {
        bares.push(await bare(store, types))
        projections.push(await projection(store))
      }
      const baseline = fastest(bares)
      const folded = fastest(projections)
      return {
        figure: {
          label: `projection catch-up of ${folded.events} events`,
          value: rate(folded),
          unit: 'events/s',
        },
        baseline: {
          label: `bare subscribeToAll of ${baseline.events} events`,
          value: rate(baseline),
          unit: 'events/s',
        },
        ratio: rate(folded) / rate(baseline),
        target: 0.5,
        notes: `projection ${describe(projections)}; bare ${describe(bares)}; ${reuse ? 'log reused from PROJECTION_CATCHUP_DATA' : `seeding ${(seedMs / 1000).toFixed(1)} s`}; rows not validated (production mode); devstore in a child process`,
      }
    } finally {
      await store.close()
      await devStore.stop()
    }
  },
}

export default benchmark
