// Issue 14, item 8: a command id reused for another input, command or aggregate, through the real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { Tank } from '../e2e/fixtures/tank.ts'

const fill =
  'mutation($id: ID!, $litres: Int!, $commandId: ID) { fill(id: $id, input: { site: "s", litres: $litres }, commandId: $commandId) { revision } }'
const drain =
  'mutation($id: ID!, $commandId: ID) { drain(id: $id, input: { litres: 1 }, commandId: $commandId) { revision } }'

describe('a command id reused for something else (abuse)', () => {
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway()
  })
  afterAll(() => gateway.close())

  it('answers COMMAND_ID_REUSED for another input, command or aggregate, and appends nothing', async () => {
    const commandId = 'reuse-command-1'
    const first = await gateway.gql(fill, { id: 'reuse-1', litres: 3, commandId })
    expect(first.body.data?.['fill']).toEqual({ revision: '0' })
    const replies = [
      await gateway.gql(fill, { id: 'reuse-1', litres: 4, commandId }),
      await gateway.gql(drain, { id: 'reuse-1', commandId }),
      await gateway.gql(fill, { id: 'reuse-2', litres: 3, commandId }),
    ]
    expect(replies.map(({ status, body }) => ({ status, code: body.errors?.[0]?.extensions.code }))).toEqual(
      Array.from({ length: 3 }, () => ({ status: 200, code: 'COMMAND_ID_REUSED' })),
    )
    const repeat = await gateway.gql(fill, { id: 'reuse-1', litres: 3, commandId })
    expect(repeat.body.data?.['fill']).toEqual({ revision: '0' })
    const events = async (id: string) => {
      let count = 0
      for await (const event of gateway.store.readStream(Tank.streamName(id))) {
        void event
        count++
      }
      return count
    }
    expect([await events('reuse-1'), await events('reuse-2')]).toEqual([1, 0])
  })
})
