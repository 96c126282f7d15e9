/**
 * What the latency target does to a replica above its saturation: the example with its default latency target
 * (ANNALS_LATENCY_TARGET_MS, 20 ms) against the same example with it off (0), and with the event loop's
 * utilization bound as well (ANNALS_MAX_EVENT_LOOP_UTILIZATION=0.95), each under the same open-loop load from
 * bench/load-driver.ts in another process, in alternating rounds, each round on a fresh data directory.
 *
 * Run: npm run bench -- load-shedding
 */
import { measuredCount, type StepReport } from './load-driver.ts'
import { median, pairedRatio } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'
import { common, drive, startExample } from './sustained-load.bench.ts'

// About twice the example's saturation point on a machine of this kind (sustained-load: 100 to 300/s).
const RATE = 800
const SECONDS = 20
const ROUNDS = 3

type Side = 'target' | 'off' | 'utilization'
const UTILIZATION = '0.95'

const settings: Record<Side, Record<string, string>> = {
  target: { ANNALS_LATENCY_TARGET_MS: '20' },
  off: { ANNALS_LATENCY_TARGET_MS: '0' },
  utilization: { ANNALS_LATENCY_TARGET_MS: '20', ANNALS_MAX_EVENT_LOOP_UTILIZATION: UTILIZATION },
}

async function round(side: Side): Promise<StepReport> {
  const example = await startExample(settings[side])
  try {
    const args = ['--rate', String(RATE), '--seconds', String(SECONDS), '--burst', '1']
    const report = await drive<StepReport>([...common(example), ...args])
    console.log(
      `  ${side}: accepted ${report.latency.ok.count} p50 ${report.latency.ok.p50} ms p99 ${report.latency.ok.p99} ms; ` +
        `refused ${report.latency.shed.count} p50 ${report.latency.shed.p50} ms p99 ${report.latency.shed.p99} ms; ` +
        `failed ${report.latency.failed.count}; read side behind at the end ${report.service['lag_at_end']}`,
    )
    return report
  } finally {
    await example.close()
  }
}

const bench: Bench = {
  name: 'load-shedding',
  description: `One example replica at ${RATE} commands/s, above saturation, with its latency target vs without`,
  method:
    `The example runs as \`npm start\` does (child process, devstore in process, log on disk, NODE_ENV=production, ` +
    `1000 batteries installed first), with its default latency target (20 ms) or with ANNALS_LATENCY_TARGET_MS=0; ` +
    `bench/load-driver.ts runs in its own process from 64 loopback client addresses, open loop, independent ` +
    `commands at ${RATE}/s, ${SECONDS} s measured after 5 s of warm-up, each latency from the command's scheduled ` +
    `send time. ${ROUNDS} rounds, rotating which side goes first, each side on a fresh example. First row: the ` +
    `accepted commands' p99 with the target (figure) against without (baseline), the ratio the median of the ` +
    `paired ratios baseline / figure. Second row: the refused commands' p99 with the target against the accepted ` +
    `ones' in the same rounds. Third and fourth rows: the same with the event loop's utilization bound as well ` +
    `(ANNALS_MAX_EVENT_LOOP_UTILIZATION=${UTILIZATION}), accepted p99 against the target alone, and refused p99.`,
  async run() {
    const reports: Record<Side, StepReport[]> = { target: [], off: [], utilization: [] }
    const sides: Side[] = ['off', 'target', 'utilization']
    for (let index = 0; index < ROUNDS; index++) {
      const order = [...sides.slice(index % 3), ...sides.slice(0, index % 3)]
      for (const side of order) reports[side].push(await round(side))
    }
    const of = (side: Side, pick: (report: StepReport) => number) => reports[side].map(pick)
    const acceptedP99 = (side: Side) => of(side, (report) => report.latency.ok.p99)
    const share = (side: Side) =>
      of(side, (report) => report.latency.shed.count / Math.max(1, measuredCount(report)))
        .map((value) => `${(100 * value).toFixed(0)}%`)
        .join(' / ')
    const paired = pairedRatio(acceptedP99('off'), acceptedP99('target'))
    const accepted: BenchResult = {
      figure: {
        label: `accepted p99 at ${RATE}/s, latency target 20 ms`,
        value: median(acceptedP99('target')),
        unit: 'ms',
      },
      baseline: {
        label: `accepted p99 at ${RATE}/s, no latency target`,
        value: median(acceptedP99('off')),
        unit: 'ms',
      },
      ratio: paired.ratio,
      notes:
        `p99 per round ${acceptedP99('target').join(' / ')} ms (off ${acceptedP99('off').join(' / ')} ms); paired ` +
        `ratios ${paired.rounds}; accepted ${of('target', (report) => report.latency.ok.count).join(' / ')} ` +
        `(off ${of('off', (report) => report.latency.ok.count).join(' / ')}); refused ${share('target')} ` +
        `(off ${share('off')}); failed ${of('target', (report) => report.latency.failed.count).join(' / ')} ` +
        `(off ${of('off', (report) => report.latency.failed.count).join(' / ')})`,
    }
    // The refused requests' p99 on a side against its accepted ones' in the same rounds.
    const refusedRow = (side: Side, label: string): BenchResult => {
      const p99 = of(side, (report) => report.latency.shed.p99)
      return {
        figure: { label: `refused p99 at ${RATE}/s, ${label}`, value: median(p99), unit: 'ms' },
        baseline: {
          label: `accepted p99 at ${RATE}/s, same rounds`,
          value: median(acceptedP99(side)),
          unit: 'ms',
        },
        ratio: median(acceptedP99(side)) / Math.max(1e-3, median(p99)),
        notes:
          `the issue's target: refused p99 < 10 ms; refused p99 per round ${p99.join(' / ')} ms, p50 ` +
          `${of(side, (report) => report.latency.shed.p50).join(' / ')} ms`,
      }
    }
    const lag = (side: Side) => of(side, (report) => report.service['lag_at_end'] ?? Number.NaN).join(' / ')
    const withBound = pairedRatio(acceptedP99('target'), acceptedP99('utilization'))
    const utilization: BenchResult = {
      figure: {
        label: `accepted p99 at ${RATE}/s, latency target and event loop utilization bound ${UTILIZATION}`,
        value: median(acceptedP99('utilization')),
        unit: 'ms',
      },
      baseline: {
        label: `accepted p99 at ${RATE}/s, latency target 20 ms alone`,
        value: median(acceptedP99('target')),
        unit: 'ms',
      },
      ratio: withBound.ratio,
      notes:
        `p99 per round ${acceptedP99('utilization').join(' / ')} ms (target alone ${acceptedP99('target').join(' / ')} ms); ` +
        `paired ratios ${withBound.rounds}; accepted ${of('utilization', (report) => report.latency.ok.count).join(' / ')} ` +
        `(target alone ${of('target', (report) => report.latency.ok.count).join(' / ')}); refused ${share('utilization')}; ` +
        `events the read side was behind at the end ${lag('utilization')} (target alone ${lag('target')}, off ${lag('off')})`,
    }
    return [
      accepted,
      refusedRow('target', 'latency target 20 ms'),
      utilization,
      refusedRow('utilization', `latency target and event loop utilization bound ${UTILIZATION}`),
    ]
  },
}

export default bench
