import { randomUUID } from 'node:crypto'
import { errorCodes } from 'annals'

export interface SimulationOptions {
  readonly url: string
  readonly batteries: number
  readonly sites: number
  /** Commands a second, after the fleet is installed. */
  readonly rate: number
  readonly seconds: number
  /** Where each random choice comes from (default Math.random): a test fixes it to know what is sent. */
  readonly random?: () => number
  readonly log?: (line: string) => void
}

/** What came back, by kind of answer and code. */
export interface SimulationTally {
  sent: number
  accepted: number
  /** Refused by the domain: a decide function's own code (or DOMAIN_ERROR). Batteries say no; expected. */
  readonly refused: Record<string, number>
  /** Refused by the service to protect itself: RATE_LIMITED and OVERLOADED. Sent too fast for it. */
  readonly shed: Record<string, number>
  /** Anything else: another framework code, `HTTP_<status>` without a GraphQL answer, `NETWORK`. */
  readonly failed: Record<string, number>
}

/** Codes the service answers with when it sheds load rather than decide. */
const SHED_CODES: ReadonlySet<string> = new Set(['RATE_LIMITED', 'OVERLOADED'])

/**
 * Drives a fleet against a running example app: installs it, then sends telemetry and power orders at `rate`
 * commands a second, asks for a dispatch every ten seconds, and stops after `seconds` once every answer is in.
 *
 * @example
 * const tally = await simulateFleet({ url: 'http://localhost:4000/graphql', batteries: 100, sites: 10, rate: 20, seconds: 60 })
 */
export async function simulateFleet(options: SimulationOptions): Promise<SimulationTally> {
  const random = options.random ?? Math.random
  const log = options.log ?? (() => undefined)
  const regions = ['north', 'south']
  const fleet = Array.from({ length: options.batteries }, (_, index) => ({
    id: `battery-${index + 1}`,
    siteId: `site-${(index % options.sites) + 1}`,
    region: regions[index % regions.length]!,
    capacityKwh: 10 + (index % 4) * 2.5,
    energyKwh: 5,
  }))
  const tally: SimulationTally = { sent: 0, accepted: 0, refused: {}, shed: {}, failed: {} }
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!

  async function send(query: string, variables: Record<string, unknown>): Promise<string> {
    tally.sent++
    const { code, kind } = await answer(options.url, query, variables)
    if (kind === 'accepted') tally.accepted++
    else tally[kind][code] = (tally[kind][code] ?? 0) + 1
    return code
  }

  function act(battery: (typeof fleet)[number]): Promise<string> {
    const roll = random()
    if (roll < 0.7) {
      battery.energyKwh = Math.min(battery.capacityKwh, Math.max(0, battery.energyKwh + (random() - 0.5) * 2))
      return send(
        'mutation($id: ID!, $energyKwh: Float!) { reportTelemetry(id: $id, input: { energyKwh: $energyKwh }) { revision } }',
        { id: battery.id, energyKwh: Math.round(battery.energyKwh * 100) / 100 },
      )
    }
    if (roll < 0.85)
      return send('mutation($id: ID!) { startCharging(id: $id, input: { powerKw: 3 }) { revision } }', {
        id: battery.id,
      })
    return send('mutation($id: ID!) { stopPower(id: $id) { revision } }', { id: battery.id })
  }

  log(`Installing ${options.batteries} batteries across ${options.sites} sites at ${options.url}`)
  for (const battery of fleet) {
    const code = await send(
      `mutation($id: ID!, $siteId: String!, $region: String!, $capacityKwh: Float!, $commandId: ID) {
        installBattery(id: $id, commandId: $commandId, input: { siteId: $siteId, region: $region, capacityKwh: $capacityKwh, maxPowerKw: 5, energyKwh: 5 }) { revision }
      }`,
      // The id is derived from the battery, so a second run of the simulator does not install twice.
      { ...battery, commandId: `install-${battery.id}` },
    )
    if (code === 'NETWORK')
      throw new Error(`Cannot reach ${options.url}: is the example running (npm start)?`)
  }

  const inFlight = new Set<Promise<string>>()
  const track = (call: Promise<string>) => {
    inFlight.add(call)
    void call.finally(() => inFlight.delete(call))
  }
  // A round a second, counted rather than timed: a timer that fires a millisecond early must not add a round.
  const started = Date.now()
  let nextDispatch = started + 10_000
  for (let round = 0; round < Math.ceil(options.seconds); round++) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + round * 1000 - Date.now())))
    const tick = Date.now()
    for (let i = 0; i < options.rate; i++) track(act(pick(fleet)))
    if (tick >= nextDispatch) {
      nextDispatch = tick + 10_000
      const siteId = pick(fleet).siteId
      track(
        send(
          'mutation($id: ID!, $siteId: String!) { requestDispatch(id: $id, input: { siteId: $siteId, powerKw: 12, durationMinutes: 15 }) { token } }',
          { id: `dispatch-${randomUUID()}`, siteId },
        ),
      )
      log(`Dispatch requested from ${siteId}; ${describeTally(tally)} so far`)
    }
  }
  await Promise.all(inFlight)
  return tally
}

/** One line: sent, accepted, and each kind of refusal with its codes. */
export function describeTally(tally: SimulationTally): string {
  const codes = (counts: Record<string, number>) => {
    const entries = Object.entries(counts)
    const total = entries.reduce((sum, [, count]) => sum + count, 0)
    return entries.length === 0 ? '0' : `${total} (${entries.map(([code, n]) => `${code} ${n}`).join(', ')})`
  }
  return (
    `${tally.sent} commands sent, ${tally.accepted} accepted, refused by the domain ${codes(tally.refused)}, ` +
    `shed by the service ${codes(tally.shed)}, other errors ${codes(tally.failed)}`
  )
}

type AnswerKind = 'accepted' | 'refused' | 'shed' | 'failed'

/** The code of an answer (`ok`, the first GraphQL error's, `HTTP_<status>`, `NETWORK`) and its kind. */
async function answer(
  url: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ code: string; kind: AnswerKind }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  }).catch(() => undefined)
  if (response === undefined) return { code: 'NETWORK', kind: 'failed' }
  const body = (await response.json().catch(() => undefined)) as
    { data?: unknown; errors?: { extensions?: { code?: unknown } }[] } | undefined
  const code = body?.errors?.[0]?.extensions?.code
  if (typeof code === 'string') return { code, kind: kindOf(code) }
  if (response.ok && body?.data != null && body.errors === undefined) return { code: 'ok', kind: 'accepted' }
  return { code: `HTTP_${response.status}`, kind: 'failed' }
}

/** Shed: the service protecting itself. Refused: a domain's own code, or DOMAIN_ERROR. Failed: any other code. */
function kindOf(code: string): AnswerKind {
  if (SHED_CODES.has(code)) return 'shed'
  return code === 'DOMAIN_ERROR' || !(code in errorCodes) ? 'refused' : 'failed'
}
