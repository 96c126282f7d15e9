/**
 * How fast the devstore comes back after a restart: 1,000,000 events of ~300 bytes in 10,000 streams are
 * written to a log, then a fresh process opens the engine on it three ways: after a crash (the index
 * checkpoint covers the first 80%, the rest is scanned, every record's crc32 checked), after a clean close
 * (the checkpoint covers everything), and by a full scan (no checkpoint). Baseline, in the same run: a fresh
 * process reading the same file sequentially and doing nothing with it. Target: ready in under 5 s with
 * RSS under 300 MiB.
 *
 * Run: npm run bench -- devstore-restart   (or: node --conditions=development --import tsx bench/devstore-restart.bench.ts)
 * DEVSTORE_RESTART_EVENTS overrides the event count (for a quick look).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomUUID } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openEngine } from '../devstore/engine/open-engine.ts'
import { LOG_FILE } from '../devstore/engine/open-engine.ts'
import { CHECKPOINT_FILE } from '../devstore/engine/index-checkpoint.ts'
import { encodeRecord, type EventToEncode } from '../devstore/engine/record-codec.ts'

const CHILD = 'DEVSTORE_RESTART_BENCH_CHILD'
const STREAMS = 10_000
const TARGET_MS = 5000
const TARGET_RSS_MIB = 300

interface Measure {
  readonly ms: number
  /** CPU time (user + system) the process spent in the measured part. */
  readonly cpuMs: number
  readonly rssMiB: number
  readonly maxRssMiB: number
  readonly events?: number
}

const benchmark = {
  name: 'devstore-restart',
  description:
    'devstore engine: open a 1,000,000-event log (after a crash, after a clean close, by a full scan) vs a raw sequential read of it',
  run: async () => {
    const events = Number(process.env['DEVSTORE_RESTART_EVENTS'] ?? 1_000_000)
    const dir = mkdtempSync(join(tmpdir(), 'devstore-restart-'))
    try {
      const log = createLogWriter(dir)
      log.write(Math.round(events * 0.8))
      // The first open scans and checkpoints the index; the events after it are what a crash leaves to scan.
      await measureInChild('open', dir)
      const bytes = log.write(events - Math.round(events * 0.8))
      const raw = await measureInChild('raw', dir)
      const afterCrash = await measureInChild('open', dir)
      const afterClose = await measureInChild('open', dir)
      rmSync(join(dir, CHECKPOINT_FILE))
      const fullScan = await measureInChild('open', dir)
      const rawAgain = await measureInChild('raw', dir)
      const baseline = Math.min(raw.ms, rawAgain.ms)
      const size = `${events} events, ${(bytes / 2 ** 20).toFixed(0)} MiB`
      const context = `load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores`
      return [
        result(
          `open after a crash (checkpoint at 80%, scan the rest; ${size})`,
          afterCrash,
          baseline,
          context,
        ),
        result(`open after a clean close (checkpoint covers all; ${size})`, afterClose, baseline, context),
        result(`open by a full scan (no checkpoint; ${size})`, fullScan, baseline, context),
      ]
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default benchmark

// Higher is better: the share of a raw read's speed; the target is the ratio at which the open takes 5 s.
function result(label: string, open: Measure, baselineMs: number, context: string) {
  const met = open.ms < TARGET_MS && open.maxRssMiB < TARGET_RSS_MIB
  return {
    figure: { label, value: Math.round(open.ms), unit: 'ms' },
    baseline: { label: 'raw sequential read of the same log', value: Math.round(baselineMs), unit: 'ms' },
    ratio: baselineMs / open.ms,
    target: Math.round((baselineMs / TARGET_MS) * 1000) / 1000,
    notes:
      `cpu ${open.cpuMs.toFixed(0)} ms, peak RSS ${open.maxRssMiB.toFixed(0)} MiB, ${open.events} events; ` +
      `target (< ${TARGET_MS} ms, < ${TARGET_RSS_MIB} MiB RSS) ${met ? 'met' : 'missed'}; ${context}`,
  }
}

/** Writes a log as the engine does: commits of one to five events, ~300 bytes a record. */
export function createLogWriter(dir: string): { write: (events: number) => number } {
  const revisions = new Array<number>(STREAMS).fill(0)
  const created = Date.now()
  let total = 0
  let written = 0
  return {
    write(events) {
      const fd = openSync(join(dir, LOG_FILE), 'a')
      let batch: Buffer[] = []
      for (const end = total + events; total < end;) {
        const stream = (total * 7919) % STREAMS
        const size = 1 + (total % 5)
        for (let k = 0; k < size && total < end; k++, total++) {
          const last = k === size - 1 || total === end - 1
          batch.push(encodeRecord(event(stream, revisions[stream]!++, total, created), last))
        }
        if (batch.length >= 4096 || total >= end) {
          const chunk = Buffer.concat(batch)
          writeSync(fd, chunk)
          written += chunk.length
          batch = []
        }
      }
      closeSync(fd)
      return written
    },
  }
}

function event(stream: number, revision: number, i: number, created: number): EventToEncode {
  const data = {
    batteryId: `battery-${stream}`,
    kw: i % 97,
    soc: (i % 1000) / 10,
    site: 'north-ridge-07',
    note: 'x'.repeat(90),
  }
  return {
    stream: `battery-${stream}`,
    revision: BigInt(revision),
    id: randomUUID(),
    type: 'ChargingStarted',
    data: Buffer.from(JSON.stringify(data)),
    metadata: Buffer.from('{"$correlationId":"c0ffee","user":"bench"}'),
    contentType: 'application/json',
    created,
  }
}

async function measureInChild(mode: 'raw' | 'open', dir: string): Promise<Measure> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', fileURLToPath(import.meta.url)],
    { env: { ...process.env, [CHILD]: `${mode}:${dir}` }, encoding: 'utf8', maxBuffer: 1 << 20 },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Measure
}

async function child(spec: string): Promise<void> {
  const [mode, dir = ''] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)]
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  let events: number | undefined
  if (mode === 'raw') {
    const fd = openSync(join(dir, LOG_FILE), 'r')
    const buffer = Buffer.allocUnsafe(8 * 1024 * 1024)
    let at = 0
    const size = statSync(join(dir, LOG_FILE)).size
    while (at < size) at += readSync(fd, buffer, 0, buffer.length, at)
    closeSync(fd)
  } else {
    const engine = await openEngine({ dataDir: dir })
    events = engine.stats().events
    const ms = performance.now() - start
    report(ms, cpuMs(cpuStart), events)
    await engine.close()
    return
  }
  report(performance.now() - start, cpuMs(cpuStart), events)
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since)
  return (user + system) / 1000
}

function report(ms: number, cpu: number, events: number | undefined): void {
  const measure: Measure = {
    ms,
    cpuMs: cpu,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    ...(events === undefined ? {} : { events }),
  }
  process.stdout.write(`${JSON.stringify(measure)}\n`)
}

const childSpec = process.env[CHILD]
if (childSpec !== undefined) await child(childSpec)
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await benchmark.run())
}
