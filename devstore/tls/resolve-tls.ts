/**
 * The TLS a devstore serves with: the files given, or for 'dev' throwaway certificates under
 * `<dataDir>/certs` (under a temporary folder removed on close when the devstore is in memory).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ensureDevCertificates } from './dev-certificates.ts'
import type { DevStoreTls } from './dev-store-tls.ts'

export interface ResolvedTls {
  readonly tls: DevStoreTls | undefined
  /** Removes what was made for an in-memory devstore. */
  readonly dispose: () => void
}

export function resolveTls(
  option: DevStoreTls | 'dev' | undefined,
  dataDir: string | undefined,
): ResolvedTls {
  if (option === undefined) return { tls: undefined, dispose: () => undefined }
  if (option !== 'dev') {
    const tls: DevStoreTls = {
      certFile: resolve(option.certFile),
      keyFile: resolve(option.keyFile),
      ...(option.caFile === undefined ? {} : { caFile: resolve(option.caFile) }),
    }
    return { tls, dispose: () => undefined }
  }
  if (dataDir !== undefined)
    return { tls: ensureDevCertificates(join(dataDir, 'certs')), dispose: () => undefined }
  const folder = mkdtempSync(join(tmpdir(), 'annals-devstore-certs-'))
  return {
    tls: ensureDevCertificates(folder),
    dispose: () => rmSync(folder, { recursive: true, force: true }),
  }
}

/** The connection string a client uses: esdb:// with tls=false, or tls=true and the CA file to trust. */
export function connectionStringOf(host: string, port: number, tls: DevStoreTls | undefined): string {
  if (tls === undefined) return `esdb://${host}:${port}?tls=false`
  const ca = tls.caFile === undefined ? '' : `&tlsCAFile=${encodeURIComponent(tls.caFile)}`
  return `esdb://${host}:${port}?tls=true${ca}`
}
