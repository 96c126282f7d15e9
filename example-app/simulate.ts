import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'

/**
 * Drives a fleet against a running example app so there is data in motion to watch in GraphiQL:
 * `npm run simulate -- --batteries 200 --rate 50 --seconds 120 --url http://localhost:4000/graphql`.
 * It installs the fleet, then sends telemetry and power orders at `rate` commands a second, and asks for a
 * dispatch every ten seconds; it stops by itself after `seconds`.
 */
const { values } = parseArgs({
  options: {
    batteries: { type: 'string', default: '100' },
    sites: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '60' },
    url: { type: 'string', default: 'http://localhost:4000/graphql' },
  },
})
const batteries = positive('batteries', values.batteries)
const sites = positive('sites', values.sites)
const rate = positive('rate', values.rate)
const seconds = positive('seconds', values.seconds)
const regions = ['north', 'south']

const fleet = Array.from({ length: batteries }, (_, index) => ({
  id: `battery-${index + 1}`,
  siteId: `site-${(index % sites) + 1}`,
  region: regions[index % regions.length]!,
  capacityKwh: 10 + (index % 4) * 2.5,
  energyKwh: 5,
}))

let sent = 0
let refused = 0
console.log(`Installing ${batteries} batteries across ${sites} sites at ${values.url}`)
for (const battery of fleet) {
  await send(
    `mutation($id: ID!, $siteId: String!, $region: String!, $capacityKwh: Float!, $commandId: ID) {
      installBattery(id: $id, commandId: $commandId, input: { siteId: $siteId, region: $region, capacityKwh: $capacityKwh, maxPowerKw: 5, energyKwh: 5 }) { revision }
    }`,
    battery,
    // The id is derived from the battery, so a second run of the simulator does not install twice.
    `install-${battery.id}`,
  )
}

const deadline = Date.now() + seconds * 1000
let nextDispatch = Date.now() + 10_000
while (Date.now() < deadline) {
  const tick = Date.now()
  for (let i = 0; i < rate; i++) void act(pick(fleet))
  if (tick >= nextDispatch) {
    nextDispatch = tick + 10_000
    const siteId = pick(fleet).siteId
    void send(
      'mutation($id: ID!, $siteId: String!) { requestDispatch(id: $id, input: { siteId: $siteId, powerKw: 12, durationMinutes: 15 }) { token } }',
      { id: `dispatch-${randomUUID()}`, siteId },
    )
    console.log(`Dispatch requested from ${siteId}; ${sent} commands sent, ${refused} refused so far`)
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - tick))))
}
console.log(`Done: ${sent} commands sent, ${refused} refused by the domain (expected: batteries say no).`)

async function act(battery: (typeof fleet)[number]): Promise<void> {
  const roll = Math.random()
  if (roll < 0.7) {
    battery.energyKwh = Math.min(
      battery.capacityKwh,
      Math.max(0, battery.energyKwh + (Math.random() - 0.5) * 2),
    )
    const energyKwh = Math.round(battery.energyKwh * 100) / 100
    await send(
      'mutation($id: ID!, $energyKwh: Float!) { reportTelemetry(id: $id, input: { energyKwh: $energyKwh }) { revision } }',
      { id: battery.id, energyKwh },
    )
  } else if (roll < 0.85) {
    await send('mutation($id: ID!) { startCharging(id: $id, input: { powerKw: 3 }) { revision } }', {
      id: battery.id,
    })
  } else {
    await send('mutation($id: ID!) { stopPower(id: $id) { revision } }', { id: battery.id })
  }
}

async function send(query: string, variables: Record<string, unknown>, commandId?: string): Promise<void> {
  sent++
  const response = await fetch(values.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables: commandId ? { ...variables, commandId } : variables }),
  }).catch((error: unknown) => {
    console.error(`Cannot reach ${values.url}: is the example running (npm start)?`, error)
    process.exit(1)
  })
  const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] }
  if (body.errors?.length) refused++
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!
}

function positive(name: string, value: string): number {
  const number = Number(value)
  if (!Number.isInteger(number) || number <= 0) {
    console.error(`--${name} must be a positive integer, not ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return number
}
