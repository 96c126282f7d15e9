import { parseArgs } from 'node:util'
import { describeTally, simulateFleet } from './simulate-fleet.ts'

/**
 * Drives a fleet against a running example app so there is data in motion to watch in GraphiQL:
 * `npm run simulate -- --batteries 200 --rate 50 --seconds 120 --url http://localhost:4000/graphql`.
 * It installs the fleet, then sends telemetry and power orders at `rate` commands a second, and asks for a
 * dispatch every ten seconds; it stops by itself after `seconds`. The summary counts refusals by the domain
 * (batteries say no), load shed by the service (RATE_LIMITED, OVERLOADED) and other errors apart, by code.
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

try {
  const tally = await simulateFleet({
    url: values.url,
    batteries: positive('batteries', values.batteries),
    sites: positive('sites', values.sites),
    rate: positive('rate', values.rate),
    seconds: positive('seconds', values.seconds),
    log: (line) => console.log(line),
  })
  console.log(`Done: ${describeTally(tally)}.`)
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
}

function positive(name: string, value: string): number {
  const number = Number(value)
  if (!Number.isInteger(number) || number <= 0) {
    console.error(`--${name} must be a positive integer, not ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return number
}
