import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  AccessDeniedError,
  persistentSubscriptionToStreamSettingsFromDefaults,
  type EventStoreDBClient,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { issueCertificate, readDevCa } from '../../devstore/tls/dev-certificates.ts'
import { connected, event, failure, readAll, readStream, streamName, temporaryDataDir } from './fixtures.ts'

// Access control as EventStoreDB's secure mode has it: users by basic auth or client certificate, `$acl`
// stream metadata for read, write, delete and metadata, AccessDeniedError where EventStoreDB gives it.

async function secured() {
  const dataDir = await temporaryDataDir()
  const { store, connect } = await connected({ dataDir, tls: 'dev', accessControl: true })
  const as = (user?: string) =>
    connect(
      user === undefined
        ? store.connectionString
        : store.connectionString.replace('esdb://', `esdb://${user}@`),
    )
  return {
    store,
    dataDir,
    connect,
    admin: as('admin:changeit'),
    ops: as('ops:changeit'),
    anonymous: as(),
    as,
  }
}

/** A stream only admins may write, delete or change, and `ops` may read. */
async function guardedStream(admin: EventStoreDBClient): Promise<string> {
  const stream = streamName('guarded')
  await admin.appendToStream(stream, event())
  await admin.setStreamMetadata(stream, {
    acl: {
      readRoles: ['ops'],
      writeRoles: ['$admins'],
      deleteRoles: ['$admins'],
      metaReadRoles: ['$admins'],
      metaWriteRoles: ['$admins'],
    },
  })
  return stream
}

describe('access control', () => {
  it('lets admin in with basic auth, and refuses anonymous calls and a wrong password', async () => {
    const { admin, anonymous, as } = await secured()
    const stream = streamName()
    await admin.appendToStream(stream, event())
    expect(await readStream(admin, stream)).toHaveLength(1)
    expect(await failure(readStream(anonymous, stream))).toBeInstanceOf(AccessDeniedError)
    expect(await failure(anonymous.appendToStream(stream, event()))).toBeInstanceOf(AccessDeniedError)
    expect(await failure(readStream(as('admin:wrong'), stream))).toBeInstanceOf(AccessDeniedError)
  })

  it('enforces a stream’s $acl for read, write, delete and metadata', async () => {
    const { admin, ops } = await secured()
    const stream = await guardedStream(admin)
    expect(await readStream(ops, stream)).toHaveLength(1)
    expect(await failure(ops.appendToStream(stream, event()))).toBeInstanceOf(AccessDeniedError)
    expect(await failure(ops.deleteStream(stream))).toBeInstanceOf(AccessDeniedError)
    expect(await failure(ops.getStreamMetadata(stream))).toBeInstanceOf(AccessDeniedError)
    expect(await failure(ops.setStreamMetadata(stream, { maxCount: 1 }))).toBeInstanceOf(AccessDeniedError)
    await admin.appendToStream(stream, event())
    await admin.deleteStream(stream)
  })

  it('refuses a write per call on the unary Append path as on BatchAppend', async () => {
    const { admin, anonymous } = await secured()
    const stream = await guardedStream(admin)
    const credentials = { username: 'ops', password: 'changeit' }
    expect(await failure(anonymous.appendToStream(stream, event(), { credentials }))).toBeInstanceOf(
      AccessDeniedError,
    )
    await anonymous.appendToStream(stream, event(), {
      credentials: { username: 'admin', password: 'changeit' },
    })
  })

  it('keeps $all to admins, as its system stream ACL does', async () => {
    const { admin, ops } = await secured()
    expect((await readAll(admin, { maxCount: 1 })).length).toBe(1)
    expect(await failure(readAll(ops, { maxCount: 1 }))).toBeInstanceOf(AccessDeniedError)
  })

  it('takes the default ACLs of user streams from $settings', async () => {
    const { admin, ops } = await secured()
    await admin.appendToStream(
      '$settings',
      event('$settings', { $userStreamAcl: { $r: '$admins', $w: '$admins' } }),
    )
    const stream = streamName()
    await admin.appendToStream(stream, event())
    expect(await failure(readStream(ops, stream))).toBeInstanceOf(AccessDeniedError)
  })

  it('authenticates a client certificate signed by its CA as the user its common name names', async () => {
    const { admin, dataDir, store, connect } = await secured()
    const stream = await guardedStream(admin)
    const user = issueCertificate({ commonName: 'ops', issuer: readDevCa(join(dataDir, 'certs')) })
    const certFile = join(dataDir, 'ops.crt')
    const keyFile = join(dataDir, 'ops.key')
    writeFileSync(certFile, user.certificate)
    writeFileSync(keyFile, user.privateKey)
    const client = connect(
      `${store.connectionString}&userCertFile=${encodeURIComponent(certFile)}&userKeyFile=${encodeURIComponent(keyFile)}`,
    )
    expect(await readStream(client, stream)).toHaveLength(1)
    expect(await failure(client.appendToStream(stream, event()))).toBeInstanceOf(AccessDeniedError)
  })

  it('lets ops manage subscription groups, and no one anonymous', async () => {
    const { ops, anonymous } = await secured()
    const settings = persistentSubscriptionToStreamSettingsFromDefaults()
    await ops.createPersistentSubscriptionToStream(streamName(), 'billing', settings)
    expect(
      await failure(anonymous.createPersistentSubscriptionToStream(streamName(), 'billing', settings)),
    ).toBeInstanceOf(AccessDeniedError)
  })
})
