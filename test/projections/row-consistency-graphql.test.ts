/* eslint-disable @typescript-eslint/no-unsafe-member-access -- GraphQL replies are untyped JSON */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createReadSide, type ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { Tank } from '../e2e/fixtures/tank.ts'
import { eventually } from './dead-letter-fixtures.ts'

const gateways: RunningGateway[] = []
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close()
})

const TankFillsRow = z.object({ tankId: z.string(), fills: z.array(z.number()) })
type TankFillsRow = z.infer<typeof TankFillsRow>

/** The litres poured into each tank, one fill after another; a fill of 13 litres fails while `failing.on`. */
function tankFills(failing: { on: boolean }) {
  return defineProjection({
    name: 'tankFills',
    row: TankFillsRow,
    key: 'tankId',
    from: [Tank],
    retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 },
    handlers: {
      TankFilled: (row, { data }, { key }): TankFillsRow => {
        if (failing.on && data.litres === 13) throw new Error('unlucky')
        return { tankId: key, fills: [...(row?.fills ?? []), data.litres] }
      },
    },
  })
}

const fill = `mutation($id: ID!, $litres: Int!) { fill(id: $id, input: { site: "s", litres: $litres }) { token } }`
const oneRow = `query($id: ID!, $t: String) { tankFills(tankId: $id, consistentWith: $t) { fills } }`
const list = `query($t: String) { tankFillsList(consistentWith: $t) { nodes { tankId } } }`

/** t1 and t3 are poisoned (a fill of 13 in the dead letters); t2 is filled after both: `token` is its write. */
async function withPoisonedTanks() {
  const failing = { on: true }
  const gateway = await startGateway({
    readSide: createReadSide({ projections: [tankFills(failing)] }),
    consistencyTimeoutMs: 500,
  })
  gateways.push(gateway)
  const write = async (id: string, litres: number) =>
    (await gateway.gql(fill, { id, litres })).body.data?.['fill'].token as string
  await write('t1', 13)
  await write('t3', 13)
  const token = await write('t2', 5)
  const control = (gateway.app.annals.readSide as ProjectionReadSide).projection('tankFills')
  await eventually(() => expect(control.deadLetters()).toHaveLength(2))
  const read = async (query: string, variables: Record<string, unknown>) => {
    const { body } = await gateway.gql(query, variables)
    return { data: body.data, code: body.errors?.[0]?.extensions.code }
  }
  return { failing, control, token, read }
}

describe('consistentWith on a one-row query while another key is in the dead letters', () => {
  it('reads the write of a healthy key, and times out for the poisoned key and for a list', async () => {
    const { token, read } = await withPoisonedTanks()
    expect(await read(oneRow, { id: 't2', t: token })).toEqual({
      data: { tankFills: { fills: [5] } },
      code: undefined,
    })
    expect((await read(oneRow, { id: 't1', t: token })).code).toBe('CONSISTENCY_TIMEOUT')
    expect((await read(list, { t: token })).code).toBe('CONSISTENCY_TIMEOUT')
  })

  it('reads the poisoned key once its dead letter is retried successfully, while a list still waits', async () => {
    const { failing, control, token, read } = await withPoisonedTanks()
    failing.on = false
    const t1 = control.deadLetters().find((deadLetter) => deadLetter.key === 't1')!
    expect(await control.retryDeadLetter(t1.id)).toBe(true)
    expect(await read(oneRow, { id: 't1', t: token })).toEqual({
      data: { tankFills: { fills: [13] } },
      code: undefined,
    })
    expect((await read(list, { t: token })).code).toBe('CONSISTENCY_TIMEOUT')
  })
})
