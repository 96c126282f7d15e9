/* eslint-disable @typescript-eslint/no-unsafe-member-access -- GraphQL replies are untyped JSON */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createReadSide } from '../../projections/create-read-side.ts'
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../scripts/throwaway-postgres.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { TankLevel } from '../e2e/fixtures/tank.ts'
import { postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'

let server: ThrowawayPostgres | undefined
let gateway: RunningGateway
beforeAll(async () => {
  if (!postgresUrl) return
  // A server of its own: this file stops and starts it.
  server = await startThrowawayPostgres()
  gateway = await startGateway({
    readSide: createReadSide({
      projections: [TankLevel],
      database: server!.url,
      resubscribeRetry: { initialDelayMs: 10, maxDelayMs: 100 },
    }),
  })
}, 60_000)
afterAll(async () => {
  await gateway?.close()
  await server?.stop()
})

const fill = (litres: number) =>
  gateway.gql(`mutation { fill(id: "t1", input: { site: "s", litres: ${litres} }) { token } }`)
const level = (token?: string) =>
  gateway.gql(`{ tankLevel(tankId: "t1"${token ? `, consistentWith: "${token}"` : ''}) { litres } }`)
const ready = async () => (await fetch(`${gateway.url}/health/ready`)).status

const suite = postgresUrl ? describe : describe.skip

suite(`a PostgreSQL outage${postgresUrl ? '' : ` (${withoutPostgres})`}`, () => {
  it('answers STORE_UNAVAILABLE and is not ready while the database is down, then folds what came meanwhile once', async () => {
    const first = (await fill(5)).body.data?.['fill'].token as string
    expect((await level(first)).body.data?.['tankLevel']).toEqual({ litres: 5 })
    await vi.waitFor(async () => expect(await ready()).toBe(200), { timeout: 10_000, interval: 20 })

    await server!.halt()
    const refused = await level()
    expect(refused.body.errors?.[0]?.extensions.code).toBe('STORE_UNAVAILABLE')
    await vi.waitFor(
      async () => {
        const reply = await fetch(`${gateway.url}/health/ready`)
        expect(reply.status).toBe(503)
        expect(await reply.json()).toMatchObject({ reasons: ['the read-model database does not answer'] })
      },
      { timeout: 10_000, interval: 20 },
    )
    // The write side does not need the read models: commands go on.
    const second = (await fill(7)).body.data?.['fill'].token as string

    await server!.restart()
    await vi.waitFor(async () => expect(await ready()).toBe(200), { timeout: 20_000, interval: 20 })
    expect((await level(second)).body.data?.['tankLevel']).toEqual({ litres: 12 })
  })
})
