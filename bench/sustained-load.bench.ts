/**
 * One replica of the example (`npm start`'s entry point in a child process, the devstore in process, its log
 * on disk) under open-loop load from bench/load-driver.ts in another process: 500 commands/s of independent
 * commands (the baseline), of overlapping pairs and of bursts of 8 to one battery, in alternating rounds;
 * then the saturation point, and one step above it to see what refused requests cost.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { measuredCount, type StepReport } from './load-driver.ts'
import type { Bench, BenchResult } from './run.ts'

const RATE = 500
const SECONDS = 15
const ROUNDS = 2
const BATTERIES = 1000
// The driver is one process; as many client addresses as a fleet would use keep the per-client rate limit
// (100/s by default) out of a measurement of the command path.
const CLIENTS = 64
const root = new URL('../', import.meta.url)

async function freePort(): Promise<number> {
  const server = createNetServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  return typeof address === 'object' && address ? address.port : 0
}

/**
 * Starts the example as `npm start` does, on a fresh data directory, and waits until it is ready; `env` adds
 * to its environment (EVENTSTORE_URL: a store in another process instead of the devstore in process).
 */
export async function startExample(env: Readonly<Record<string, string>> = {}): Promise<{
  url: string
  metricsUrl: string
  close(): Promise<void>
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'annals-load-'))
  const port = await freePort()
  const metricsPort = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'example-app/main.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        ANNALS_DATA_DIR: dataDir,
        NODE_ENV: 'production',
        // The load comes from anonymous clients on loopback, as in development; production refuses to start
        // without saying so, and serves its metrics on a port of their own.
        ANNALS_AUTH: 'none',
        ANNALS_METRICS_PORT: String(metricsPort),
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const url = `http://127.0.0.1:${port}`
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`${url}/health/ready`).then(
      (reply) => reply.ok,
      () => false,
    )
    if (ready) break
    if (attempt > 600 || child.exitCode !== null) throw new Error('The example did not become ready')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url: `${url}/graphql`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    async close() {
      child.kill('SIGTERM')
      if (child.exitCode === null) await once(child, 'exit')
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** Runs the driver in its own process and returns its JSON report. */
export async function drive<T>(args: readonly string[]): Promise<T> {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'bench/load-driver.ts', '--json', ...args],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const chunks: Buffer[] = []
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`load driver exited with ${code}`)
  return JSON.parse(Buffer.concat(chunks).toString()) as T
}

/** The driver's arguments for the example: where it answers, its fleet, and the clients the load comes from. */
export const common = (example: { url: string; metricsUrl: string }) => [
  '--url',
  example.url,
  '--metrics',
  example.metricsUrl,
  '--batteries',
  String(BATTERIES),
  '--clients',
  String(CLIENTS),
]

const bench: Bench = {
  name: 'sustained-load',
  description:
    'One example replica under open-loop load: p99 at 500 commands/s with overlapping commands, saturation',
  method:
    `The example runs as \`npm start\` does (child process, devstore in process, log on disk, NODE_ENV=production), ` +
    `${BATTERIES} batteries installed first; bench/load-driver.ts runs in its own process from ${CLIENTS} loopback ` +
    `client addresses, open loop, each latency measured from the command's scheduled send time. ` +
    `Rounds alternate independent commands (the baseline), pairs and bursts of 8 to one battery at ${RATE}/s, ` +
    `${SECONDS} s measured after 5 s of warm-up, ${ROUNDS} rounds each; the figure is the worst round's p99, ` +
    `the ratio baseline p99 / figure p99 (1 = overlap costs nothing). Then the rate steps up from 100/s by 100/s (10 s ` +
    `each) until the accepted p99 passes 50 ms or more than 1% fail: the saturation point, and the step above it.`,
  async run() {
    const example = await startExample()
    try {
      const args = common(example)
      const p99 = new Map<number, number[]>()
      const reports: StepReport[] = []
      for (let round = 0; round < ROUNDS; round++) {
        for (const burst of [1, 2, 8]) {
          const report = await drive<StepReport>([
            ...args,
            '--rate',
            String(RATE),
            '--seconds',
            String(SECONDS),
            '--burst',
            String(burst),
          ])
          reports.push(report)
          p99.set(burst, [...(p99.get(burst) ?? []), report.latency.ok.p99])
          console.log(
            `  round ${round + 1}, bursts of ${burst}: p50 ${report.latency.ok.p50} ms, p99 ${report.latency.ok.p99} ms, ${report.throughput.toFixed(0)}/s, codes ${JSON.stringify(report.codes)}`,
          )
        }
      }
      const saturation = await drive<{ saturation: number | undefined; steps: StepReport[] }>([
        ...args,
        '--saturate',
        '--from',
        '100',
        '--step',
        '100',
        '--step-seconds',
        '10',
      ])
      const above = saturation.steps.at(-1)
      const worst = (burst: number) => Math.max(...(p99.get(burst) ?? [Number.NaN]))
      const median50 = (burst: number) =>
        reports.filter((report) => report.burst === burst).map((report) => report.latency.ok.p50)
      const refusedShare = (burst: number) =>
        reports
          .filter((report) => report.burst === burst)
          .map(
            (report) =>
              `${((100 * report.latency.shed.count) / Math.max(1, measuredCount(report))).toFixed(1)}%`,
          )
          .join(' / ')
      const results: BenchResult[] = [2, 8].map((burst) => ({
        figure: {
          label: `p99 at ${RATE}/s, bursts of ${burst} to one battery`,
          value: worst(burst),
          unit: 'ms',
        },
        baseline: { label: `p99 at ${RATE}/s, independent commands`, value: worst(1), unit: 'ms' },
        ratio: worst(1) / worst(burst),
        notes:
          `p50 ${median50(burst).join(' / ')} ms (baseline ${median50(1).join(' / ')} ms); ` +
          `p99 per round ${p99.get(burst)?.join(' / ')} ms (baseline ${p99.get(1)?.join(' / ')} ms); ` +
          `refused with OVERLOADED ${refusedShare(burst)} (baseline ${refusedShare(1)})`,
      }))
      results.push({
        figure: {
          label: 'saturation point (p99 ≤ 50 ms, ≤ 1% failed)',
          value: saturation.saturation ?? 0,
          unit: 'commands/s',
        },
        baseline: { label: 'the rate asked of one replica', value: RATE, unit: 'commands/s' },
        ratio: (saturation.saturation ?? 0) / RATE,
        notes: above
          ? `step above (${above.rate}/s): accepted ${above.latency.ok.count} p99 ${above.latency.ok.p99} ms; ` +
            `shed ${above.latency.shed.count} p99 ${above.latency.shed.p99} ms; failed ${above.latency.failed.count}; ` +
            `unanswered ${above.unanswered}; codes ${JSON.stringify(above.codes)}; service ${JSON.stringify(above.service)}`
          : 'no step ran',
      })
      return results
    } finally {
      await example.close()
    }
  },
}

export default bench
