import { describe, expect, it } from 'vitest'
import { defaultSelfUrl, parseServerConfig } from './server-config.ts'

describe('the server configuration', () => {
  it('reads every variable, and defaults the rest', () => {
    expect(parseServerConfig({})).toMatchObject({ environment: 'development', port: 4000, host: '127.0.0.1' })
    const config = parseServerConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      HOST: '::',
      EVENTSTORE_URL: 'esdb://db:2113?tls=false',
      GRAPHQL_INTROSPECTION: '1',
      SHUTDOWN_TIMEOUT_MS: '2500',
    })
    expect(config).toMatchObject({
      environment: 'production',
      port: 8080,
      host: '::',
      eventStoreUrl: 'esdb://db:2113?tls=false',
      introspection: true,
      shutdownTimeoutMs: 2500,
    })
  })

  it('stops with BAD_CONFIG naming each bad variable and its value', () => {
    const parse = () => parseServerConfig({ PORT: '70000', EVENTSTORE_URL: 'http://db', LOG_LEVEL: 'loud' })
    expect(parse).toThrow(expect.objectContaining({ code: 'BAD_CONFIG' }))
    expect(parse).toThrow(/PORT="70000"/)
    expect(parse).toThrow(/EVENTSTORE_URL="http:\/\/db": must be an esdb:\/\/ connection string/)
    expect(parse).toThrow(/LOG_LEVEL="loud"/)
  })

  it('reads the allowed origins as a list, and refuses what is not an origin', () => {
    expect(
      parseServerConfig({ ANNALS_ALLOWED_ORIGINS: 'https://a.example, http://localhost:3000' })
        .allowedOrigins,
    ).toEqual(['https://a.example', 'http://localhost:3000'])
    expect(() => parseServerConfig({ ANNALS_ALLOWED_ORIGINS: 'https://a.example/path' })).toThrow(
      /ANNALS_ALLOWED_ORIGINS/,
    )
  })

  it('reads the event loop utilization bound: 0 (off), or from 0.5 to below 1', () => {
    expect(parseServerConfig({}).maxEventLoopUtilization).toBeUndefined()
    expect(parseServerConfig({ ANNALS_MAX_EVENT_LOOP_UTILIZATION: '0' }).maxEventLoopUtilization).toBe(0)
    expect(parseServerConfig({ ANNALS_MAX_EVENT_LOOP_UTILIZATION: '0.95' }).maxEventLoopUtilization).toBe(
      0.95,
    )
    expect(parseServerConfig({ ANNALS_MAX_EVENT_LOOP_UTILIZATION: '0.5' }).maxEventLoopUtilization).toBe(0.5)
    // 1 could never be passed; 0.3 would refuse requests to an idle replica; negatives and words mean nothing.
    for (const bad of ['1', '0.3', '-0.5', 'busy']) {
      expect(() => parseServerConfig({ ANNALS_MAX_EVENT_LOOP_UTILIZATION: bad })).toThrow(
        expect.objectContaining({
          code: 'BAD_CONFIG',
          message: expect.stringContaining(`ANNALS_MAX_EVENT_LOOP_UTILIZATION="${bad}"`) as unknown,
        }),
      )
    }
  })

  it('treats an empty variable as unset', () => {
    expect(parseServerConfig({ PORT: '', HOST: '' })).toMatchObject({ port: 4000, host: '127.0.0.1' })
  })

  it('binds loopback unless HOST is set, and every interface in production', () => {
    expect(parseServerConfig({ NODE_ENV: 'development' }).host).toBe('127.0.0.1')
    expect(parseServerConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).host).toBe('0.0.0.0')
    expect(parseServerConfig({ NODE_ENV: 'production' }).host).toBe('0.0.0.0')
  })

  it('reads the authentication and the metrics port', () => {
    expect(parseServerConfig({}).auth).toBeUndefined()
    expect(parseServerConfig({ ANNALS_AUTH: 'none' }).auth).toBe('none')
    expect(
      parseServerConfig({
        ANNALS_JWT_SECRET: 's'.repeat(32),
        ANNALS_JWT_ISSUER: 'i',
        ANNALS_JWT_AUDIENCE: 'a',
      }).auth,
    ).toEqual({ jwt: { secret: 's'.repeat(32), issuer: 'i', audience: 'a' } })
    expect(parseServerConfig({}).metricsPort).toBeUndefined()
    expect(parseServerConfig({ NODE_ENV: 'production' }).metricsPort).toBe(9464)
    expect(parseServerConfig({ ANNALS_METRICS_PORT: '9100' }).metricsPort).toBe(9100)
  })
})

describe('the default self URL', () => {
  it('calls a wildcard host on loopback, IPv4 and IPv6', () => {
    expect(defaultSelfUrl('0.0.0.0', 4000)).toBe('http://127.0.0.1:4000')
    expect(defaultSelfUrl('::', 4000)).toBe('http://[::1]:4000')
  })

  it('puts an IPv6 literal in brackets, so the URL parses with the right host and port', () => {
    const url = new URL(defaultSelfUrl('fd00::7', 4001))
    expect(url.hostname).toBe('[fd00::7]')
    expect(url.port).toBe('4001')
  })

  it('keeps a name or an IPv4 address as it is', () => {
    expect(defaultSelfUrl('replica-0.annals', 4000)).toBe('http://replica-0.annals:4000')
    expect(defaultSelfUrl('10.0.0.5', 80)).toBe('http://10.0.0.5:80')
  })
})
