/**
 * How fast the devstore comes back after a restart: 1,000,000 events of ~300 bytes in 10,000 streams are
 * written to a log, then a fresh process opens the engine on it (recovery rebuilds the index by scanning
 * the log, checking every record's crc32). Baseline, in the same run: a fresh process reading the same file
 * sequentially and doing nothing with it. Target: ready in under 5 s with RSS under 300 MiB.
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
import { openEngine } from '../devstore/engine/engine.ts'
import { LOG_FILE } from '../devstore/engine/create-engine.ts'
import { encodeRecord } from '../devstore/engine/record-codec.ts'

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
    'devstore engine: open a 1,000,000-event log by a full scan (no index checkpoint) vs a raw sequential read of the file',
  run: async () => {
    const events = Number(process.env['DEVSTORE_RESTART_EVENTS'] ?? 1_000_000)
    const dir = mkdtempSync(join(tmpdir(), 'devstore-restart-'))
    try {
      const bytes = writeLog(dir, events)
      const raw = await measureInChild('raw', dir)
      // No checkpoint yet: the whole log is scanned (the first open writes one).
      const scan = await measureInChild('open', dir)
      const checkpointed = await measureInChild('open', dir)
      const rawAgain = await measureInChild('raw', dir)
      const baselineMs = Math.min(raw.ms, rawAgain.ms)
      const met = scan.ms < TARGET_MS && scan.maxRssMiB < TARGET_RSS_MIB
      return {
        figure: {
          label: `open ${events} events (${(bytes / 2 ** 20).toFixed(0)} MiB) by a full scan`,
          value: scan.ms,
          unit: 'ms',
        },
        baseline: { label: 'raw sequential read of the same file', value: baselineMs, unit: 'ms' },
        ratio: scan.ms / baselineMs,
        target: `open < ${TARGET_MS} ms and RSS < ${TARGET_RSS_MIB} MiB`,
        notes:
          `full scan: ${scan.ms.toFixed(0)} ms (cpu ${scan.cpuMs.toFixed(0)} ms), peak RSS ${scan.maxRssMiB.toFixed(0)} MiB, ` +
          `${scan.events} events; from the index checkpoint: ${checkpointed.ms.toFixed(0)} ms (cpu ${checkpointed.cpuMs.toFixed(0)} ms), ` +
          `peak RSS ${checkpointed.maxRssMiB.toFixed(0)} MiB; raw read: ${baselineMs.toFixed(0)} ms, peak RSS ${raw.maxRssMiB.toFixed(0)} MiB ` +
          `(process baseline included); target ${met ? 'met' : 'missed'}; load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores`,
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default benchmark

// A log as the engine writes it: commits of one to five events, ~300 bytes a record.
export function writeLog(dir: string, events: number): number {
  const fd = openSync(join(dir, LOG_FILE), 'w')
  const revisions = new Array<number>(STREAMS).fill(0)
  const created = Date.now()
  let batch: Buffer[] = []
  let written = 0
  for (let i = 0; i < events;) {
    const stream = (i * 7919) % STREAMS
    const size = 1 + (i % 5)
    for (let k = 0; k < size && i < events; k++, i++) {
      const data = JSON.stringify({
        batteryId: `battery-${stream}`,
        kw: i % 97,
        soc: (i % 1000) / 10,
        site: 'north-ridge-07',
        note: 'x'.repeat(90),
      })
      const record = encodeRecord(
        {
          stream: `battery-${stream}`,
          revision: BigInt(revisions[stream]!++),
          id: randomUUID(),
          type: 'ChargingStarted',
          data: Buffer.from(data),
          metadata: Buffer.from('{"$correlationId":"c0ffee","user":"bench"}'),
          contentType: 'application/json',
          created,
        },
        k === size - 1 || i === events - 1,
      )
      batch.push(record)
    }
    if (batch.length >= 4096 || i >= events) {
      const chunk = Buffer.concat(batch)
      writeSync(fd, chunk)
      written += chunk.length
      batch = []
    }
  }
  closeSync(fd)
  return written
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
