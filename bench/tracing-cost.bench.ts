/**
 * What Annals' OpenTelemetry instrumentation costs (issue 17): the command pipeline and the list query with
 * (a) no SDK registered, as a service without tracing runs; (b) the instrumentation bypassed; (c) an SDK
 * registered (NodeTracerProvider, a batch processor, an exporter that drops every span).
 *
 * The baseline (b): no build of Annals without its instrumentation exists to compare with, and stripping
 * every call site by a source transform would measure a program nobody runs. bypassTracing
 * (framework/tracing/tracer.ts) is the cheapest honest stand-in: the check every span site makes first,
 * tracingEnabled(), becomes a constant false instead of asking the global tracer provider, and the gateway
 * registers neither its onResolution hook (there only to end the operation's span) nor its preExecution
 * call. What (b) still runs: those call sites' constant checks and returns, the `trace` field a command and
 * a gateway context carry (undefined), the append's scan for a traced command, and the read of a
 * `traceparent` key in the metadata of each event a projection folds or an aggregate feed delivers (neither
 * is on these two paths). So (a) against (b) is the price of asking whether an SDK is there, and of the
 * hooks; the target is (a) ≥ 0.98 × (b).
 *
 * Each side runs in a process of its own, its tracing set before anything is built, so no side's code is
 * compiled for another's shape of spans; the HTTP clients run in a load-generator process of their own.
 * Rounds alternate the sides' order; each ratio is the median of the rounds' paired ratios.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { isDeepStrictEqual } from 'node:util'
import { forkLoadGenerator, type HttpRound, type LoadGenerator } from './load-generator.ts'
import { median, pairedRatio, pairedRounds } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'
import type { SideReply, SideRequest, TracingSide } from './tracing-side-child.ts'

const COMMANDS = 10_000
const COMMAND_ROUNDS = 40
const CONCURRENCY = 16
const ROUND_MS = 500
const LIST_ROUNDS = 40
const PAGE = 50
const SIDES: readonly TracingSide[] = ['off', 'bypassed', 'sdk']

const query = `query Page($first: Int) { tankLevelList(first: $first, where: { site: { eq: "bench" } }) {
  nodes { tankId site litres status } pageInfo { endCursor hasNextPage } position
} }`

interface SideProcess {
  readonly url: string
  commands(count: number): Promise<{ ms: number; cpuMicros: number }>
  cpuMicros(): Promise<number>
  close(): Promise<void>
}

const childScript = new URL('./tracing-side-child.ts', import.meta.url)

async function forkSide(side: TracingSide): Promise<SideProcess> {
  const child: ChildProcess = fork(childScript, [side], {
    execArgv: ['--conditions=development', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [ready] = (await once(child, 'message')) as [{ url: string }]
  let next = 0
  const pending = new Map<number, (reply: SideReply) => void>()
  child.on('message', (reply: SideReply) => {
    pending.get(reply.id)?.(reply)
    pending.delete(reply.id)
  })
  const ask = (request: { kind: 'commands'; count: number } | { kind: 'cpu' }) =>
    new Promise<SideReply>((resolve) => {
      const id = next++
      pending.set(id, resolve)
      child.send({ ...request, id } satisfies SideRequest)
    })
  return {
    url: ready.url,
    async commands(count) {
      const reply = await ask({ kind: 'commands', count })
      return { ms: reply.ms ?? Number.NaN, cpuMicros: reply.cpuMicros }
    },
    async cpuMicros() {
      return (await ask({ kind: 'cpu' })).cpuMicros
    },
    async close() {
      const exited = once(child, 'exit')
      child.disconnect()
      await exited
    },
  }
}

type BySide<T> = Record<TracingSide, T>

function bySide<T>(make: (side: TracingSide) => T): BySide<T> {
  return Object.fromEntries(SIDES.map((side) => [side, make(side)])) as BySide<T>
}

/** Commands per second of one caller on a held aggregate, and CPU per command, on each side. */
async function commandPipeline(sides: BySide<SideProcess>): Promise<BenchResult[]> {
  for (const side of SIDES) for (let warm = 0; warm < 2; warm++) await sides[side].commands(COMMANDS)
  const cpu = bySide(() => [] as number[])
  const rates = await pairedRounds(
    COMMAND_ROUNDS,
    bySide((side) => async () => {
      const { ms, cpuMicros } = await sides[side].commands(COMMANDS)
      cpu[side].push(cpuMicros / COMMANDS)
      return COMMANDS / (ms / 1000)
    }),
  )
  const label = (side: TracingSide) => `command bus, one caller, held aggregate, in memory, ${describe(side)}`
  const notes = `${COMMANDS} commands a round; CPU per command (median): ${cpuLine(cpu)}`
  return [
    compare(rates, 'off', 'bypassed', label, 'commands/s', {
      target: 0.98,
      notes: `${notes}; ${COMMAND_ROUNDS} alternating rounds after 2 warm-up rounds per side`,
    }),
    compare(rates, 'sdk', 'off', label, 'commands/s', {
      notes: `the cost of an SDK: command and append spans for every command, dropped by the exporter; ${notes}`,
    }),
  ]
}

/** List queries per second through the gateway (a GET, run by graphql-jit), and server CPU per request, on each side. */
async function listQuery(sides: BySide<SideProcess>, generator: LoadGenerator): Promise<BenchResult[]> {
  const search = new URLSearchParams({ query, variables: JSON.stringify({ first: PAGE }) })
  const headers = { 'x-annals-csrf': '1' }
  const rounds = bySide<HttpRound>((side) => ({
    url: `${sides[side].url}/graphql?${search.toString()}`,
    headers,
    concurrency: CONCURRENCY,
    durationMs: ROUND_MS,
  }))
  // Every side must answer the same JSON, or the ratio compares different work.
  const answers = await Promise.all(
    SIDES.map(async (side) => (await fetch(rounds[side].url, { headers })).json()),
  )
  if (!answers.every((answer) => isDeepStrictEqual(answer, answers[0])))
    throw new Error('The sides answer the list query differently')
  for (const side of SIDES) await generator.http(rounds[side])
  const cpu = bySide(() => [] as number[])
  const rates = await pairedRounds(
    LIST_ROUNDS,
    bySide((side) => async () => {
      const before = await sides[side].cpuMicros()
      const { perSecond, requests } = await generator.http(rounds[side])
      cpu[side].push(((await sides[side].cpuMicros()) - before) / Math.max(requests, 1))
      return perSecond
    }),
  )
  const label = (side: TracingSide) => `GraphQL list query (${PAGE} rows, GET), ${describe(side)}`
  const notes =
    `${CONCURRENCY} HTTP clients in a load-generator process; rounds of ${ROUND_MS} ms; ` +
    `server CPU per request (median): ${cpuLine(cpu)}`
  return [
    compare(rates, 'off', 'bypassed', label, 'req/s', {
      target: 0.98,
      notes: `${notes}; ${LIST_ROUNDS} alternating rounds after a warm-up round per side`,
    }),
    compare(rates, 'sdk', 'off', label, 'req/s', {
      notes: `the cost of an SDK: an operation span per request, dropped by the exporter; ${notes}`,
    }),
  ]
}

function describe(side: TracingSide): string {
  if (side === 'off') return 'no SDK registered'
  if (side === 'bypassed') return 'instrumentation bypassed'
  return 'SDK registered, spans dropped'
}

function cpuLine(cpu: BySide<number[]>): string {
  return SIDES.map((side) => `${side} ${median(cpu[side]).toFixed(1)} µs`).join(', ')
}

function compare(
  rates: BySide<number[]>,
  figure: TracingSide,
  baseline: TracingSide,
  label: (side: TracingSide) => string,
  unit: string,
  options: { target?: number; notes: string },
): BenchResult {
  const paired = pairedRatio(rates[figure], rates[baseline])
  return {
    figure: { label: label(figure), value: Math.round(median(rates[figure])), unit },
    baseline: { label: label(baseline), value: Math.round(median(rates[baseline])), unit },
    ratio: paired.ratio,
    ...(options.target === undefined ? {} : { target: options.target }),
    notes: `${options.notes}; ratio by round: ${paired.rounds}`,
  }
}

const bench: Bench = {
  name: 'tracing-cost',
  description:
    'The command pipeline and the list query with no OpenTelemetry SDK, with the instrumentation bypassed, and with an SDK whose exporter drops every span',
  method:
    "Three sides, each in a process of its own with its tracing set before anything is built: (a) no SDK registered, as a service without tracing runs; (b) the baseline, bypassTracing(): every span site asks a constant instead of the global tracer provider, and the gateway registers no tracing hooks (no build of Annals without instrumentation exists; this is the cheapest honest stand-in, see the header of bench/tracing-cost.bench.ts for what it still runs); (c) the NodeTracerProvider registered with a batch processor and an exporter that drops every span. The command pipeline: one caller, one held aggregate, the in-memory store, in the side's process. The list query: a page of 50 of 500 rows as a GET, 16 HTTP clients in a load-generator process of their own. Rounds alternate the sides' order; each ratio is the median of the rounds' paired ratios, with each side's CPU per operation beside it. Target (issue 17): (a) ≥ 0.98 × (b); (c) against (a) is reported.",
  async run() {
    const processes = await Promise.all(SIDES.map((side) => forkSide(side)))
    const sides = bySide((side) => processes[SIDES.indexOf(side)]!)
    const generator = await forkLoadGenerator()
    try {
      return [...(await commandPipeline(sides)), ...(await listQuery(sides, generator))]
    } finally {
      await generator.close()
      await Promise.all(processes.map((side) => side.close()))
    }
  },
}

export default bench
