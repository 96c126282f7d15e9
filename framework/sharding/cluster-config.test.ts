import { describe, expect, it } from 'vitest'
import { clusterSettingsFromEnv } from './cluster-config.ts'

describe('clusterSettingsFromEnv', () => {
  it('reads the DNS settings of peer discovery', () => {
    expect(
      clusterSettingsFromEnv({
        ANNALS_PEERS_DNS: 'annals-internal.default.svc.cluster.local',
        ANNALS_DNS_SERVERS: '10.96.0.10, [fd00::10]:53',
        ANNALS_DNS_TIMEOUT_MS: '500',
        ANNALS_DISCOVER_INTERVAL_MS: '2000',
      }),
    ).toMatchObject({
      peersDns: 'annals-internal.default.svc.cluster.local',
      dnsServers: ['10.96.0.10', '[fd00::10]:53'],
      dnsTimeoutMs: 500,
      discoverIntervalMs: 2000,
    })
  })

  it('leaves out what is not set, and treats an empty variable as not set', () => {
    expect(clusterSettingsFromEnv({ ANNALS_DNS_SERVERS: '', UNRELATED: 'x' })).toEqual({ production: false })
  })

  it.each([
    ['ANNALS_DNS_TIMEOUT_MS', '0'],
    ['ANNALS_DISCOVER_INTERVAL_MS', 'often'],
    ['ANNALS_INTERNAL_PORT', '70000'],
  ])('refuses a bad %s with BAD_CONFIG naming it', (name, value) => {
    expect(() => clusterSettingsFromEnv({ [name]: value })).toThrow(
      expect.objectContaining({
        code: 'BAD_CONFIG',
        message: expect.stringMatching(`^${name}: `) as unknown,
      }),
    )
  })
})
