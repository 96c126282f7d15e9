import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EventStoreDBClient } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { issueCertificate } from '../../devstore/tls/dev-certificates.ts'
import { connected, event, failure, readStream, streamName, temporaryDataDir } from './fixtures.ts'

// TLS as the client uses it: its connection string options tls, tlsCAFile and tlsVerifyCert.

// The client's first call (its ServerFeatures probe) fails with the raw gRPC status: no TLS session.
const unavailable = { code: 14 }

describe('a devstore serving TLS with development certificates', () => {
  it('names its CA in the connection string, and the client connects with tls and tlsCAFile', async () => {
    const dataDir = await temporaryDataDir()
    const { client, store } = await connected({ dataDir, tls: 'dev' })
    const caFile = join(dataDir, 'certs', 'ca.crt')
    expect(store.connectionString).toBe(
      `esdb://127.0.0.1:${store.port}?tls=true&tlsCAFile=${encodeURIComponent(caFile)}`,
    )
    const stream = streamName()
    await client.appendToStream(stream, event())
    expect(await readStream(client, stream)).toHaveLength(1)
  })

  it('keeps its CA across restarts, so a client’s tlsCAFile stays good', async () => {
    const dataDir = await temporaryDataDir()
    const first = await connected({ dataDir, tls: 'dev' })
    const ca = readFileSync(join(dataDir, 'certs', 'ca.crt'), 'utf8')
    await first.store.close()
    const second = await connected({ dataDir, tls: 'dev' })
    expect(readFileSync(join(dataDir, 'certs', 'ca.crt'), 'utf8')).toBe(ca)
    await second.client.appendToStream(streamName(), event())
  })

  it('is refused by a client that does not trust its CA, tlsVerifyCert=false notwithstanding', async () => {
    // @eventstore/db-client 6.x does not support tlsVerifyCert=false (it warns and verifies anyway).
    const { store, connect } = await connected({ tls: 'dev' })
    const client = connect(`esdb://127.0.0.1:${store.port}?tls=true&tlsVerifyCert=false`)
    expect(await failure(client.appendToStream(streamName(), event()))).toMatchObject(unavailable)
  })

  it('is refused by a client that connects without TLS', async () => {
    const { store, connect } = await connected({ tls: 'dev' })
    const client = connect(`esdb://127.0.0.1:${store.port}?tls=false`)
    expect(await failure(client.appendToStream(streamName(), event()))).toMatchObject(unavailable)
  })
})

describe('a devstore serving TLS with certificate files given', () => {
  it('serves with them, to a client that trusts their CA', async () => {
    const folder = await temporaryDataDir()
    const ca = issueCertificate({ commonName: 'Test CA', ca: true })
    const node = issueCertificate({ commonName: 'localhost', dnsNames: ['localhost'], issuer: ca })
    const files = {
      caFile: join(folder, 'ca.pem'),
      certFile: join(folder, 'node.pem'),
      keyFile: join(folder, 'node.key'),
    }
    writeFileSync(files.caFile, ca.certificate)
    writeFileSync(files.certFile, node.certificate)
    writeFileSync(files.keyFile, node.privateKey)
    const { store } = await connected({ tls: files })
    const client = EventStoreDBClient.connectionString(
      `esdb://localhost:${store.port}?tls=true&tlsCAFile=${encodeURIComponent(files.caFile)}`,
    )
    try {
      const stream = streamName()
      await client.appendToStream(stream, event())
      expect(await readStream(client, stream)).toHaveLength(1)
    } finally {
      await client.dispose()
    }
  })
})
