import persistentPb from '@eventstore/db-client/generated/persistent_pb.js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import { describe, expect, it } from 'vitest'
import { parseGroupRequest } from './parse-group-request.ts'

const { CreateReq } = persistentPb

function createRequest(configure: (options: InstanceType<typeof CreateReq.Options>) => void) {
  const settings = new CreateReq.Settings()
  settings.setMessageTimeoutMs(300)
  settings.setCheckpointAfterMs(100)
  settings.setMaxRetryCount(2)
  settings.setMinCheckpointCount(1)
  settings.setMaxCheckpointCount(10)
  settings.setNamedConsumerStrategy(CreateReq.ConsumerStrategy.ROUNDROBIN)
  settings.setRevision('18446744073709551615')
  const options = new CreateReq.Options()
  options.setGroupName('billing')
  options.setSettings(settings)
  configure(options)
  const request = new CreateReq()
  request.setOptions(options)
  return request
}

const streamNamed = (name: string) => new sharedPb.StreamIdentifier().setStreamName(Buffer.from(name))

describe('parseGroupRequest', () => {
  it('reads a stream group as client 6.x sends it, start in the deprecated revision', () => {
    const definition = parseGroupRequest(
      createRequest((options) => options.setStreamIdentifier(streamNamed('orders'))),
    )
    expect(definition).toMatchObject({ stream: 'orders', group: 'billing', startFrom: { kind: 'end' } })
    expect(definition.settings).toMatchObject({
      messageTimeoutMs: 300,
      maxRetryCount: 2,
      strategy: 'RoundRobin',
    })
  })

  it('reads a $all group with its filter and start position', () => {
    const request = createRequest((options) => {
      const filter = new CreateReq.AllOptions.FilterOptions()
      filter.setEventType(new CreateReq.AllOptions.FilterOptions.Expression().setPrefixList(['Order']))
      const all = new CreateReq.AllOptions()
      all.setPosition(new CreateReq.Position().setCommitPosition('120').setPreparePosition('120'))
      all.setFilter(filter)
      options.setAll(all)
    })
    expect(parseGroupRequest(request)).toMatchObject({
      stream: '$all',
      startFrom: { kind: 'at', value: 120n },
      filter: { on: 'eventType', prefixes: ['Order'] },
    })
  })

  it('refuses a request without a group name', () => {
    const request = createRequest((options) =>
      options.setStreamIdentifier(streamNamed('orders')).setGroupName(''),
    )
    expect(() => parseGroupRequest(request)).toThrow(expect.objectContaining({ code: 3 }) as Error)
  })
})
