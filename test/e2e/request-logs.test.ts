import { describe, expect, it } from 'vitest'
import { FaultyTank } from './fixtures/faulty-tank.ts'
import { startGateway, type GatewayOptions } from './fixtures/start-gateway.ts'

interface LogLine {
  readonly level: number
  readonly msg: string
  readonly responseTime?: number
  readonly req?: { method?: string; url?: string }
}

const levels = { debug: 20, info: 30, warn: 40, error: 50 } as const
const fill = (id: string) => `mutation { fill(id: "${id}", input: { site: "s", litres: 1 }) { revision } }`

/** Runs a real server that logs at `level` into memory, sends it `requests`, closes it, and returns its lines. */
async function logsOf(
  level: keyof typeof levels,
  requests: (gql: (query: string) => Promise<unknown>, url: string) => Promise<void>,
  options: GatewayOptions = {},
): Promise<LogLine[]> {
  const lines: LogLine[] = []
  const gateway = await startGateway({
    limits: { rateLimit: false },
    ...options,
    logger: { level, stream: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } },
  })
  try {
    await requests((query) => gateway.gql(query), gateway.url)
  } finally {
    await gateway.close()
  }
  return lines
}

const messages = (lines: readonly LogLine[], level: keyof typeof levels) =>
  lines.filter((line) => line.level === levels[level]).map((line) => line.msg)

describe('request logs', () => {
  it('writes no line per request at info, and the start and stop of the server', async () => {
    const lines = await logsOf('info', async (gql, url) => {
      for (let index = 0; index < 5; index++) await gql(fill(`t${index}`))
      await fetch(`${url}/metrics`)
      await fetch(`${url}/no-such-route`)
      await gql('{ nonsense }')
    })
    const info = messages(lines, 'info')
    expect(info.filter((msg) => /request|not found|nonsense/i.test(msg))).toEqual([])
    expect(info).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Server listening at/),
        'Annals server draining',
        'Annals server stopped',
      ]),
    )
  })

  it('writes each request at debug, incoming and completed', async () => {
    const lines = await logsOf('debug', async (gql) => {
      await gql(fill('a'))
      await gql(fill('b'))
    })
    const debug = messages(lines, 'debug')
    expect(debug.filter((msg) => msg === 'incoming request')).toHaveLength(2)
    expect(debug.filter((msg) => msg === 'request completed')).toHaveLength(2)
  })

  it('logs a request over the slow threshold at warn with its time and route', async () => {
    const lines = await logsOf('info', async (gql) => void (await gql(fill('slow'))), {
      slowRequestMs: 0,
    })
    const slow = lines.filter((line) => line.level === levels.warn && line.msg === 'slow request')
    expect(slow).toEqual([
      expect.objectContaining({
        req: { method: 'POST', url: '/graphql' },
        responseTime: expect.any(Number) as unknown,
      }),
    ])
  })

  it('logs a failure at error but not a command refused by the load bound', async () => {
    const failed = await logsOf(
      'info',
      async (gql) => void (await gql('mutation { explode(id: "x") { revision } }')),
      { aggregates: [FaultyTank], readSide: undefined },
    )
    expect(messages(failed, 'error')).toHaveLength(1)
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => (release = resolve))
    const shed = await logsOf(
      'info',
      async (gql, url) => {
        const queued = gql(fill('hot'))
        const waiting = async () =>
          (await (await fetch(`${url}/metrics`)).text()).includes('annals_queued_commands 1')
        await expect.poll(waiting).toBe(true)
        const refused = (await gql(fill('hot'))) as { body: { errors?: { extensions: { code: string } }[] } }
        expect(refused.body.errors?.[0]?.extensions.code).toBe('OVERLOADED')
        release()
        await queued
      },
      {
        commands: { maxQueuedPerAggregate: 1 },
        wrapStore: (store) => ({
          ...store,
          appendToStream: async (...args) => {
            await gate
            return store.appendToStream(...args)
          },
        }),
      },
    )
    expect(messages(shed, 'error')).toEqual([])
  })
})
