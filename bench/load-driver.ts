/**
 * An open-loop load driver for any Annals service running the example's Battery aggregate:
 *
 *   npm run load -- --url http://localhost:4000/graphql --rate 500 --seconds 60 --burst 2
 *   npm run load -- --url http://localhost:4000/graphql --saturate --from 250 --step 250
 *
 * Fixed rate: commands are scheduled at `rate` a second whatever the service does, in bursts of `burst`
 * commands to one battery sent together (1: independent commands; 2: pairs that overlap; 8: bursts), and each
 * latency is measured from the command's scheduled send time, not from when it was sent: a service that
 * stalls is charged for every command that should have gone out meanwhile (coordinated omission).
 * Saturation: fixed-rate steps of `step-seconds`, rising by `step`, until the accepted commands' p99 passes
 * `max-p99` ms or more than 1% fail; the last step that held is the saturation point.
 * Reports throughput, p50/p99/p99.9 by outcome (ok, refused by the domain, shed with OVERLOADED or
 * RATE_LIMITED, failed otherwise), errors by code, and the service's own counters from its /metrics.
 * `--json` prints one JSON document instead, for bench/sustained-load.bench.ts.
 */
import { Agent, request } from 'node:http'
import { parseArgs } from 'node:util'
import * as hdr from 'hdr-histogram-js'
import { errorCodes } from '../framework/errors.ts'

export type Outcome = 'ok' | 'domain' | 'shed' | 'failed'

export interface StepReport {
  readonly rate: number
  readonly burst: number
  readonly seconds: number
  /** Commands answered within the measured window, per second. */
  readonly throughput: number
  readonly sent: number
  /** Latency from the scheduled send time, in ms, by outcome. */
  readonly latency: Record<Outcome, { count: number; p50: number; p99: number; p999: number; max: number }>
  /** Answers by code: `ok`, a domain code, OVERLOADED, RATE_LIMITED, HTTP_<status>, NETWORK. */
  readonly codes: Record<string, number>
  /** Commands still unanswered when the step ended (counted as failed). */
  readonly unanswered: number
  /** The service's counters over the step (deltas), and its memory at the end. */
  readonly service: Record<string, number>
}

/** Commands answered within a step's measured window, whatever their outcome (its warm-up is not counted). */
export function measuredCount(report: StepReport): number {
  return Object.values(report.latency).reduce((sum, outcome) => sum + outcome.count, 0)
}

export interface DriverOptions {
  readonly url: string
  /** Where the service's /metrics answers; default /metrics beside `url` (a production service serves it on a port of its own). */
  readonly metricsUrl?: string
  readonly batteries: number
  /**
   * Sites (homes) the batteries are installed at, in turn. Default: one per 10 batteries, as the simulator's
   * fleet. A site's row in fleetBySite holds each of its batteries, so every event of a battery rewrites it:
   * a thousand batteries at one site would measure that one row, not the command path.
   */
  readonly sites?: number
  readonly burst: number
  readonly warmupSeconds: number
  /**
   * Clients the load comes from: on a loopback target each sends from its own address (127.0.0.2, …), so a
   * per-client rate limit sees as many clients as a fleet of real ones would be. Default 1.
   */
  readonly clients?: number
  readonly log: (line: string) => void
}

/** Codes the service sheds load with; every other code errors.ts lists (but DOMAIN_ERROR) is a failure. */
const SHED = new Set(['OVERLOADED', 'RATE_LIMITED'])

const telemetry =
  'mutation($id: ID!, $energyKwh: Float!) { reportTelemetry(id: $id, input: { energyKwh: $energyKwh }) { revision } }'
const charge = 'mutation($id: ID!) { startCharging(id: $id, input: { powerKw: 3 }) { revision } }'
const stop = 'mutation($id: ID!) { stopPower(id: $id) { revision } }'
const install = `mutation($id: ID!, $siteId: String!, $commandId: ID) {
  installBattery(id: $id, commandId: $commandId, input: { siteId: $siteId, region: "north", capacityKwh: 13.5, maxPowerKw: 5, energyKwh: 5 }) { revision }
}`

/** Creates a driver on one service: installs the fleet once, then runs fixed-rate steps against it. */
export function createLoadDriver(options: DriverOptions) {
  const target = new URL(options.url)
  const metricsUrl = new URL(options.metricsUrl ?? '/metrics', target)
  // Enough sockets that the client never becomes the queue it measures; beyond them requests wait in the agent,
  // and that wait is charged to the latency like any other (it starts at the scheduled time).
  const loopback = /^(127\.|localhost$|\[::1\]$)/.test(target.hostname)
  const clients = Array.from({ length: Math.max(1, options.clients ?? 1) }, (_, index) => ({
    agent: new Agent({ keepAlive: true, maxSockets: 1024 }),
    ...(loopback && (options.clients ?? 1) > 1
      ? { localAddress: `127.0.${Math.floor(index / 250)}.${(index % 250) + 2}` }
      : {}),
  }))
  const fleet = Array.from({ length: options.batteries }, (_, index) => `load-battery-${index + 1}`)
  const sites = Math.max(1, options.sites ?? Math.ceil(options.batteries / 10))
  const siteOf = (index: number) => `load-site-${(index % sites) + 1}`

  const post = (body: string, client: (typeof clients)[number]) =>
    new Promise<{ status: number; text: string }>((resolve) => {
      const call = request(
        target,
        {
          method: 'POST',
          ...client,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          )
          response.on('error', () => resolve({ status: 0, text: '' }))
        },
      )
      call.on('error', () => resolve({ status: 0, text: '' }))
      call.end(body)
    })

  const send = async (query: string, variables: Record<string, string | number>): Promise<string> => {
    // A battery's commands always come from the same client, as a device's would.
    const client = clients[hash(String(variables['id'])) % clients.length]!
    const { status, text } = await post(JSON.stringify({ query, variables }), client)
    if (status === 0) return 'NETWORK'
    try {
      const body = JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }
      const code = body.errors?.[0]?.extensions?.code
      if (code !== undefined) return code
    } catch {
      return `HTTP_${status}`
    }
    return status === 200 ? 'ok' : `HTTP_${status}`
  }

  const command = (battery: string): Promise<string> => {
    const roll = Math.random()
    if (roll < 0.7) return send(telemetry, { id: battery, energyKwh: Math.round(Math.random() * 1300) / 100 })
    return send(roll < 0.85 ? charge : stop, { id: battery })
  }

  return {
    /** Installs every battery (idempotent: the command id derives from the battery), a few at a time. */
    async installFleet(): Promise<void> {
      let next = 0
      const worker = async () => {
        while (next < fleet.length) {
          const index = next++
          const id = fleet[index]!
          const variables = { id, siteId: siteOf(index), commandId: `install-${id}` }
          let code = await send(install, variables)
          // A shed install is retried after the wait the service asks for; the command id makes it idempotent.
          for (let attempt = 0; SHED.has(code) && attempt < 30; attempt++) {
            await new Promise((resolve) => setTimeout(resolve, 1000))
            code = await send(install, variables)
          }
          if (code !== 'ok' && code !== 'BATTERY_ALREADY_INSTALLED') {
            throw new Error(`Installing ${id} answered ${code}`)
          }
        }
      }
      await Promise.all(Array.from({ length: 16 }, worker))
    },

    /**
     * Sends `rate` commands a second for `seconds` (after the warm-up) and reports what came back. It starts
     * once the service's read side has caught up with what earlier steps wrote (up to a minute), so a step is
     * not charged for the backlog of the one before it.
     */
    async step(rate: number, seconds: number): Promise<StepReport> {
      await settled(metricsUrl, 60_000)
      const { burst } = options
      const histograms = {
        ok: histogram(),
        domain: histogram(),
        shed: histogram(),
        failed: histogram(),
      } satisfies Record<Outcome, hdr.Histogram>
      const codes: Record<string, number> = {}
      const intervalMs = (1000 * burst) / rate
      const start = performance.now() + 5
      const measuredFrom = start + options.warmupSeconds * 1000
      const end = measuredFrom + seconds * 1000
      let before: Record<string, number> | undefined
      let sent = 0
      let answered = 0
      let measured = 0
      const inFlight = new Set<Promise<void>>()
      const fire = (scheduled: number) => {
        const battery = fleet[Math.floor(Math.random() * fleet.length)]!
        for (let index = 0; index < burst; index++) {
          sent++
          const call = command(battery).then((code) => {
            answered++
            const done = performance.now()
            if (scheduled < measuredFrom || scheduled >= end) return
            measured++
            codes[code] = (codes[code] ?? 0) + 1
            const outcome: Outcome =
              code === 'ok' ? 'ok' : SHED.has(code) ? 'shed' : isDomain(code) ? 'domain' : 'failed'
            histograms[outcome].recordValue(Math.max(1, Math.round((done - scheduled) * 1000)))
          })
          inFlight.add(call)
          void call.finally(() => inFlight.delete(call))
        }
      }
      let burstIndex = 0
      while (true) {
        const now = performance.now()
        if (before === undefined && now >= measuredFrom) before = await scrape(metricsUrl)
        // Every burst whose time has come goes out now, however late the loop is: the schedule does not bend.
        for (let due = start + burstIndex * intervalMs; due <= now && due < end;) {
          fire(due)
          burstIndex++
          due = start + burstIndex * intervalMs
        }
        if (now >= end) break
        await new Promise((resolve) => setTimeout(resolve, Math.min(5, Math.max(1, intervalMs / 2))))
      }
      // Answers still due get a bounded grace; what is unanswered after it counts as failed.
      const grace = new Promise((resolve) => setTimeout(resolve, 10_000).unref())
      await Promise.race([Promise.all(inFlight), grace])
      const unanswered = inFlight.size
      const after = await scrape(metricsUrl)
      const service = serviceCounters(before ?? {}, after)
      const latency = Object.fromEntries(
        Object.entries(histograms).map(([outcome, values]) => [outcome, summary(values)]),
      ) as StepReport['latency']
      for (const values of Object.values(histograms)) values.destroy()
      void answered
      return {
        rate,
        burst,
        seconds,
        throughput: measured / seconds,
        sent,
        latency,
        codes,
        unanswered,
        service,
      }
    },

    close: () => clients.forEach((client) => client.agent.destroy()),
  }
}

/**
 * Steps the rate up from `from` by `step` until a step's accepted p99 passes `maxP99Ms` or more than 1% of its
 * commands fail (shed or otherwise): returns every step, the last that held first.
 */
export async function findSaturation(
  driver: ReturnType<typeof createLoadDriver>,
  options: { from: number; step: number; stepSeconds: number; maxP99Ms: number; maxRate: number },
  log: (line: string) => void,
): Promise<{ saturation: number | undefined; steps: StepReport[] }> {
  const steps: StepReport[] = []
  let saturation: number | undefined
  for (let rate = options.from; rate <= options.maxRate; rate += options.step) {
    const report = await driver.step(rate, options.stepSeconds)
    steps.push(report)
    log(describeStep(report))
    const total = Object.values(report.latency).reduce((sum, entry) => sum + entry.count, 0)
    const failing = report.latency.shed.count + report.latency.failed.count + report.unanswered
    const held = report.latency.ok.p99 <= options.maxP99Ms && failing <= total * 0.01
    if (!held) break
    saturation = rate
  }
  return { saturation, steps }
}

export function describeStep(report: StepReport): string {
  const { latency } = report
  const line = (name: Outcome) =>
    latency[name].count === 0
      ? ''
      : `\n  ${name.padEnd(7)} ${String(latency[name].count).padStart(7)}  p50 ${ms(latency[name].p50)}  p99 ${ms(latency[name].p99)}  p99.9 ${ms(latency[name].p999)}  max ${ms(latency[name].max)}`
  const codes = Object.entries(report.codes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ${count}`)
    .join(', ')
  const service = Object.entries(report.service)
    .map(([name, value]) => `${name} ${Number.isInteger(value) ? value : value.toFixed(1)}`)
    .join(', ')
  return (
    `rate ${report.rate}/s in bursts of ${report.burst}, ${report.seconds} s measured: ` +
    `${report.throughput.toFixed(0)} answers/s, ${report.unanswered} unanswered` +
    ['ok', 'domain', 'shed', 'failed'].map((name) => line(name as Outcome)).join('') +
    `\n  codes: ${codes}\n  service: ${service}`
  )
}

function hash(text: string): number {
  let value = 0
  for (let index = 0; index < text.length; index++) value = (value * 31 + text.charCodeAt(index)) >>> 0
  return value
}

function histogram(): hdr.Histogram {
  // Microseconds, from 1 µs to an hour, three significant digits.
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  })
}

function summary(values: hdr.Histogram) {
  const at = (percentile: number) =>
    values.totalCount === 0 ? 0 : values.getValueAtPercentile(percentile) / 1000
  return { count: values.totalCount, p50: at(50), p99: at(99), p999: at(99.9), max: values.maxValue / 1000 }
}

function isDomain(code: string): boolean {
  if (code === 'DOMAIN_ERROR') return true
  return !(code in errorCodes) && !code.startsWith('HTTP_') && code !== 'NETWORK'
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 0)} ms`.padStart(9)
}

/** Events the service's projections, reactors and workflows have not handled yet, by its /metrics. */
const lagSeries = ['annals_projection_lag_events', 'annals_reactor_lag_events', 'annals_workflow_lag_events']
const lagOf = (series: Record<string, number>) =>
  lagSeries.reduce((sum, name) => sum + (series[name] ?? 0), 0)

/** Resolves once the service reports no lag (or at `timeoutMs`: the step then starts with the backlog). */
async function settled(url: URL, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (lagOf(await scrape(url)) > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** The service's own series, summed over their labels (commands by outcome kept apart). */
async function scrape(url: URL): Promise<Record<string, number>> {
  const response = await fetch(url).catch(() => undefined)
  if (!response?.ok) return {}
  const series: Record<string, number> = {}
  for (const line of (await response.text()).split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const match = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line)
    if (!match) continue
    const [, name, labels = '', value] = match
    const outcome = /outcome="([^"]+)"/.exec(labels)?.[1]
    const key = name === 'annals_commands_total' && outcome ? `commands_${outcome}` : name!
    series[key] = (series[key] ?? 0) + Number(value)
  }
  return series
}

function serviceCounters(before: Record<string, number>, after: Record<string, number>) {
  const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0)
  const counters: Record<string, number> = {}
  for (const name of Object.keys(after)) if (name.startsWith('commands_')) counters[name] = delta(name)
  counters['overloaded'] = delta('annals_overloaded_commands')
  counters['conflict_retries'] = delta('annals_conflict_retries')
  const appends = delta('annals_appends')
  counters['appends'] = appends
  counters['mean_group'] = appends === 0 ? 0 : delta('annals_appended_commands') / appends
  counters['queued_at_end'] = after['annals_queued_commands'] ?? 0
  // Events written but not yet handled by the read side when the step ended: whether it kept up.
  counters['lag_at_end'] = lagOf(after)
  counters['rss_mb'] = (after['process_resident_memory_bytes'] ?? 0) / 2 ** 20
  counters['heap_used_mb'] = (after['nodejs_heap_size_used_bytes'] ?? 0) / 2 ** 20
  return counters
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://localhost:4000/graphql' },
      metrics: { type: 'string' },
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '5' },
      batteries: { type: 'string', default: '1000' },
      sites: { type: 'string' },
      burst: { type: 'string', default: '1' },
      clients: { type: 'string', default: '1' },
      saturate: { type: 'boolean', default: false },
      from: { type: 'string', default: '250' },
      step: { type: 'string', default: '250' },
      'step-seconds': { type: 'string', default: '15' },
      'max-p99': { type: 'string', default: '50' },
      'max-rate': { type: 'string', default: '10000' },
      json: { type: 'boolean', default: false },
    },
  })
  const number = (name: keyof typeof values) => {
    const value = Number(values[name])
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`--${name} must be a number, not ${String(values[name])}`)
    return value
  }
  const log = values.json ? () => undefined : (line: string) => console.log(line)
  const driver = createLoadDriver({
    url: values.url,
    ...(values.metrics === undefined ? {} : { metricsUrl: values.metrics }),
    batteries: number('batteries'),
    ...(values.sites === undefined ? {} : { sites: number('sites') }),
    burst: Math.max(1, number('burst')),
    warmupSeconds: number('warmup'),
    clients: Math.max(1, number('clients')),
    log,
  })
  try {
    log(`Installing ${values.batteries} batteries at ${values.url}`)
    await driver.installFleet()
    if (values.saturate) {
      const result = await findSaturation(
        driver,
        {
          from: number('from'),
          step: number('step'),
          stepSeconds: number('step-seconds'),
          maxP99Ms: number('max-p99'),
          maxRate: number('max-rate'),
        },
        log,
      )
      log(
        `Saturation: ${result.saturation ?? 'below the first step'} commands/s (p99 ≤ ${values['max-p99']} ms, ≤ 1% failed)`,
      )
      if (values.json) console.log(JSON.stringify(result))
    } else {
      const report = await driver.step(number('rate'), number('seconds'))
      log(describeStep(report))
      if (values.json) console.log(JSON.stringify(report))
    }
  } finally {
    driver.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
