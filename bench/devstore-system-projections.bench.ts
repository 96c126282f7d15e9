import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client'
import {
  cpuMicros,
  forkBenchServer,
  type BenchServer,
  type BenchServerKind,
} from './devstore-bench-servers.ts'
import { median, pairedRatio } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'

const APPENDS = 3000
const CONCURRENCY = 16
const ROUNDS = 6
const STREAMS = 50

interface Round {
  readonly perSecond: number
  /** CPU of the server and of this process (the client), per append. */
  readonly cpuPerAppend: number
}

/** APPENDS single-event appends from CONCURRENCY callers over STREAMS streams of one category. */
async function appendRound(server: BenchServer, client: EventStoreDBClient, round: number): Promise<Round> {
  const serverBefore = (await server.stats()).cpuMicros
  const clientBefore = cpuMicros()
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let n = next++; n < APPENDS; n = next++) {
        const event = jsonEvent({ id: randomUUID(), type: 'TelemetryReported', data: { soc: n % 100 } })
        await client.appendToStream(`battery-r${round}s${n % STREAMS}`, event)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const cpu = (await server.stats()).cpuMicros - serverBefore + cpuMicros() - clientBefore
  return { perSecond: APPENDS / seconds, cpuPerAppend: cpu / APPENDS }
}

/** A devstore of `kind` in a child process, file-backed with fsync, and a client on it. */
async function started(kind: BenchServerKind) {
  const dataDir = await mkdtemp(join(tmpdir(), `system-projections-${kind}-`))
  const server = await forkBenchServer(kind, dataDir)
  const client = EventStoreDBClient.connectionString(server.connectionString)
  return {
    server,
    client,
    async close() {
      await client.dispose()
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

const bench: Bench = {
  name: 'devstore-system-projections',
  description:
    'Appends per second to a devstore running its system projections ($by_category, $by_event_type, $streams, …) vs the same devstore without them',
  method: `Two devstores, each in a child process of its own, file-backed with fsync: one runs the five system projections (as it does by default), one runs none. ${CONCURRENCY} callers append ${APPENDS} single-event appends a round over ${STREAMS} streams of one category, through the same client; ${ROUNDS} pairs of rounds alternating which side goes first, after a warm-up round per side. The ratio is the median of the pairs' ratios; the CPU per append (server and client processes) of each side is reported beside it. No target: the figure says what the links EventStoreDB's development mode writes cost here.`,
  async run(): Promise<BenchResult> {
    const projecting = await started('projecting')
    const plain = await started('store')
    try {
      let round = 0
      await appendRound(projecting.server, projecting.client, round++)
      await appendRound(plain.server, plain.client, round++)
      const sides = { projecting: [] as Round[], plain: [] as Round[] }
      for (let pair = 0; pair < ROUNDS; pair++) {
        const order = pair % 2 === 0 ? (['projecting', 'plain'] as const) : (['plain', 'projecting'] as const)
        for (const side of order) {
          const { server, client } = side === 'projecting' ? projecting : plain
          sides[side].push(await appendRound(server, client, round++))
        }
      }
      const rates = (side: Round[]) => side.map((one) => one.perSecond)
      const cpu = (side: Round[]) => median(side.map((one) => one.cpuPerAppend)).toFixed(0)
      const paired = pairedRatio(rates(sides.projecting), rates(sides.plain))
      return {
        figure: {
          label: 'devstore with its system projections',
          value: Math.round(median(rates(sides.projecting))),
          unit: 'appends/s',
        },
        baseline: {
          label: 'the same devstore without them',
          value: Math.round(median(rates(sides.plain))),
          unit: 'appends/s',
        },
        ratio: paired.ratio,
        notes: `${CONCURRENCY} callers, ${APPENDS} single-event appends a round over ${STREAMS} streams of one category; devstores in child processes, file-backed with fsync, loopback gRPC; CPU per append, server and client: with ${cpu(sides.projecting)} µs, without ${cpu(sides.plain)} µs; median of ${ROUNDS} alternating pairs (${paired.rounds}) after a warm-up round per side`,
      }
    } finally {
      await projecting.close()
      await plain.close()
    }
  },
}

export default bench
