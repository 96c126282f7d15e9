import { describe, expect, it } from 'vitest'
import { decodeConfig, encodeConfig, formatStartFrom } from './group-config.ts'
import { defaultGroupSettings, type GroupDefinition } from './group-settings.ts'

const orders: GroupDefinition = {
  stream: 'orders',
  group: 'billing',
  startFrom: { kind: 'at', value: 42n },
  settings: { ...defaultGroupSettings, strategy: 'DispatchToSingle', messageTimeoutMs: 300 },
}
const everything: GroupDefinition = {
  stream: '$all',
  group: 'audit',
  startFrom: { kind: 'end' },
  filter: { on: 'stream', prefixes: ['orders-'] },
  settings: defaultGroupSettings,
}

describe('the $PersistentConfig codec', () => {
  it('reads back the definitions it wrote', () => {
    const data: unknown = JSON.parse(JSON.stringify(encodeConfig([orders, everything], new Date(0))))
    expect(decodeConfig(data)).toEqual([orders, everything])
  })

  it('leaves out entries it cannot read', () => {
    expect(decodeConfig({ entries: [{ group: 'no stream' }, 7] })).toEqual([])
    expect(decodeConfig('garbage')).toEqual([])
  })

  it('formats start points as the client parses them', () => {
    expect(formatStartFrom('orders', { kind: 'start' })).toBe('0')
    expect(formatStartFrom('orders', { kind: 'end' })).toBe('-1')
    expect(formatStartFrom('$all', { kind: 'end' })).toBe('C:-1/P:-1')
    expect(formatStartFrom('$all', { kind: 'at', value: 99n })).toBe('C:99/P:99')
  })
})
