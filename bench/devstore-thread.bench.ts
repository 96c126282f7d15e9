/**
 * What the devstore's own thread does to a replica under load: the example with ANNALS_DEVSTORE_THREAD=true
 * (the devstore on a worker thread of the service's process) against the example as `npm start` runs it (the
 * devstore on the service's event loop), each under the same open-loop load from bench/load-driver.ts in
 * another process, in alternating rounds, each round on a fresh data directory.
 *
 * Run: npm run bench -- devstore-thread
 */
import type { StepReport } from './load-driver.ts'
import { median, pairedRatio } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'
import { common, drive, startExample } from './sustained-load.bench.ts'

// 500/s first, right after the batteries are installed: past saturation; then 400/s, below it.
const RATES = [500, 400] as const
const SECONDS = 20
const ROUNDS = 4

type Side = 'thread' | 'loop'

/** Starts the example on one side, drives each rate through it, and stops it. */
async function round(side: Side): Promise<StepReport[]> {
  const example = await startExample({ ANNALS_DEVSTORE_THREAD: side === 'thread' ? 'true' : 'false' })
  try {
    const reports: StepReport[] = []
    for (const rate of RATES) {
      const args = ['--rate', String(rate), '--seconds', String(SECONDS), '--burst', '1']
      const report = await drive<StepReport>([...common(example), ...args])
      console.log(
        `  ${side} ${rate}/s: p50 ${report.latency.ok.p50} ms, p99 ${report.latency.ok.p99} ms, ` +
          `shed ${report.latency.shed.count}, rss ${report.service['rss_mb']?.toFixed(0)} MB`,
      )
      reports.push(report)
    }
    return reports
  } finally {
    await example.close()
  }
}

const bench: Bench = {
  name: 'devstore-thread',
  description:
    "The example under open-loop load with the devstore on a thread of its own vs on the service's event loop: p99",
  method:
    `The example runs as \`npm start\` does (child process, log on disk, NODE_ENV=production, 1000 batteries ` +
    `installed first), with the devstore on a worker thread of its process (ANNALS_DEVSTORE_THREAD=true) or on ` +
    `its event loop (the default); bench/load-driver.ts runs in its own process from 64 loopback client ` +
    `addresses, open loop, independent commands at ${RATES.join(' then ')}/s, ${SECONDS} s measured after 5 s ` +
    `of warm-up, each latency from the command's scheduled send time. ${ROUNDS} rounds, alternating which side ` +
    `goes first, each side on a fresh example. Figure: the median over rounds of the thread's p99; baseline: ` +
    `the same on the event loop; ratio: the median of the rounds' paired ratios baseline p99 / figure p99 ` +
    `(above 1: the thread answers faster).`,
  async run() {
    const reports: Record<Side, StepReport[][]> = { thread: [], loop: [] }
    for (let index = 0; index < ROUNDS; index++) {
      const order: Side[] = index % 2 === 0 ? ['loop', 'thread'] : ['thread', 'loop']
      for (const side of order) reports[side].push(await round(side))
    }
    return RATES.map((rate, at): BenchResult => {
      const p99 = (side: Side) => reports[side].map((steps) => steps[at]!.latency.ok.p99)
      const rss = (side: Side) => reports[side].map((steps) => steps[at]!.service['rss_mb'] ?? 0)
      const shed = (side: Side) => reports[side].map((steps) => steps[at]!.latency.shed.count)
      // Lower is better: the paired ratio of the baseline's p99 to the thread's.
      const paired = pairedRatio(p99('loop'), p99('thread'))
      return {
        figure: {
          label: `p99 at ${rate}/s, devstore on its own thread`,
          value: median(p99('thread')),
          unit: 'ms',
        },
        baseline: {
          label: `p99 at ${rate}/s, devstore on the service's event loop`,
          value: median(p99('loop')),
          unit: 'ms',
        },
        ratio: paired.ratio,
        notes:
          `p99 per round ${p99('thread').join(' / ')} ms (event loop ${p99('loop').join(' / ')} ms); ` +
          `paired ratios ${paired.rounds}; shed ${shed('thread').join(' / ')} (event loop ${shed('loop').join(' / ')}); ` +
          `RSS at the end ${rss('thread')
            .map((mb) => mb.toFixed(0))
            .join(' / ')} MB (event loop ${rss('loop')
            .map((mb) => mb.toFixed(0))
            .join(' / ')} MB)`,
      }
    })
  },
}

export default bench
