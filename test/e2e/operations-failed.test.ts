/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return -- GraphQL replies are untyped JSON */
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createReadSide } from 'annals/projections'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import { annals } from './fixtures/annals-cli.ts'
import { FillReporter, reported, TankFills } from './fixtures/ops-app.ts'
import { opsRequest, tanksOf } from './fixtures/ops-client.ts'
import { startGateway, type RunningGateway } from './fixtures/start-gateway.ts'

const token = 'the-ops-token-of-the-failure-tests'

const eventually = <T>(check: () => Promise<T>) => vi.waitFor(check, { timeout: 15_000, interval: 20 })

const suite = postgresUrl ? describe : describe.skip

suite(
  postgresUrl ? 'a projection that fails, on PostgreSQL' : `a projection that fails (${withoutPostgres})`,
  { timeout: 90_000 },
  () => {
    let database: { url: string; drop(): Promise<void> }
    let sql: pg.Client
    let gateway: RunningGateway
    const { fill, fillsOf } = tanksOf(() => gateway)
    const ops = async (query: string) => {
      const reply = await opsRequest(gateway.url, query, { token })
      expect(reply.body.errors).toBeUndefined()
      return reply.body.data!
    }
    const projection = async () =>
      (await ops('{ projection(name: "tankFills") { status failure position eventsBehind } }'))['projection']

    const modelTable = async () => {
      const { rows } = await sql.query(`select table_name from annals.models where name = 'tankFills'`)
      return (rows[0] as { table_name: string }).table_name
    }
    /** What stops a rebuild's switch: an analyst's view reads the model's table, so it cannot be dropped. */
    async function blockTheSwitch() {
      const table = await modelTable()
      await sql.query(`create view public.tank_report as select * from annals."${table}"`)
    }
    const unblockTheSwitch = () => sql.query('drop view if exists public.tank_report')

    /** Fills a tank and waits until the reactor has it: the log has delivered it to this replica. */
    async function delivered(id: string, litres: number) {
      const seen = reported.length
      const position = await fill(id, litres)
      await eventually(() => Promise.resolve(expect(reported.slice(seen)).toContain(litres)))
      return position
    }

    async function failARebuild() {
      await blockTheSwitch()
      const started = await ops('mutation { rebuildProjection(name: "tankFills") { name } }')
      expect(started).toEqual({ rebuildProjection: { name: 'tankFills' } })
      return eventually(async () => {
        const now = await projection()
        expect(now).toMatchObject({
          status: 'FAILED',
          failure: expect.stringMatching(/^its rebuild failed: /),
        })
        return now
      })
    }

    beforeAll(async () => {
      database = await freshDatabase()
      sql = new pg.Client(database.url)
      await sql.connect()
      gateway = await startGateway({
        readSide: createReadSide({
          projections: [TankFills],
          reactors: [FillReporter],
          database: database.url,
        }),
        ops: { token },
      })
    })
    afterEach(async () => {
      await unblockTheSwitch()
    })
    afterAll(async () => {
      await gateway?.close()
      await sql?.end()
      await database?.drop()
    })

    it('is FAILED with its reason when a rebuild cannot switch to its copy, its checkpoint standing still, until resumed', async () => {
      const first = await fill('f-1', 2)
      await eventually(async () => {
        const now = await projection()
        expect(now).toMatchObject({ status: 'RUNNING', failure: null })
        expect(BigInt(now['position'] as string)).toBeGreaterThanOrEqual(first)
      })
      const failed = await failARebuild()
      const second = await delivered('f-1', 4)
      const after = await projection()
      expect(after).toMatchObject({ status: 'FAILED', position: failed['position'] })
      expect(BigInt(after['position'] as string)).toBeLessThan(second)
      // Measured with the head of the log, every second.
      await eventually(async () => expect((await projection())['eventsBehind']).toBeGreaterThanOrEqual(1))
      expect(await fillsOf('f-1')).toEqual([2])

      // Readiness stays: its rows still serve every replica; /health/ready names its state.
      const ready = await fetch(`${gateway.url}/health/ready`)
      expect(ready.status).toBe(200)
      expect(((await ready.json()) as { projections: { state: string }[] }).projections[0]!.state).toBe(
        'failed',
      )
      const listed = await annals(['ops', 'projections', '--url', gateway.url, '--token', token])
      expect(listed.stdout).toMatch(/^tankFills\s+FAILED\s/m)
      expect(listed.stdout).toMatch(/^FAILED\s+WHY$/m)
      expect(listed.stdout).toMatch(/^tankFills\s+its rebuild failed: /m)

      await unblockTheSwitch()
      const resumed = await ops('mutation { resumeProjection(name: "tankFills") { status failure } }')
      expect(resumed).toEqual({ resumeProjection: { status: 'RUNNING', failure: null } })
      await eventually(async () => {
        expect(BigInt((await projection())['position'] as string)).toBeGreaterThanOrEqual(second)
        expect(await fillsOf('f-1')).toEqual([2, 4])
      })
    })

    it('is cleared by a rebuild that switches in, which folds what came meanwhile', async () => {
      await delivered('f-2', 3)
      const before = await modelTable()
      await failARebuild()
      await delivered('f-2', 5)
      expect(await fillsOf('f-2')).toEqual([3])
      await unblockTheSwitch()
      // The copy the failed rebuild filled is resumed (same definition), then switched in.
      await ops('mutation { rebuildProjection(name: "tankFills") { name } }')
      await eventually(async () => {
        expect(await projection()).toMatchObject({ status: 'RUNNING', failure: null })
        expect(await fillsOf('f-2')).toEqual([3, 5])
      })
      expect(await modelTable()).not.toBe(before)
    })
  },
)
