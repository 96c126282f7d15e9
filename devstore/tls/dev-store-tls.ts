/**
 * TLS for the devstore's gRPC server: its certificate and key, and the CA that signed them (which clients
 * name as tlsCAFile, and against which client certificates are checked), all PEM files.
 */
import { readFileSync } from 'node:fs'
import { experimental, ServerCredentials } from '@grpc/grpc-js'

export interface DevStoreTls {
  readonly certFile: string
  readonly keyFile: string
  /** The CA of the server's certificate and of the client certificates it accepts; omitted: none accepted. */
  readonly caFile?: string
}

/**
 * Server credentials for `tls`. With a CA, a client may present a certificate signed by it (it then
 * authenticates as the user its common name names); a client without one connects all the same.
 */
export function serverCredentials(tls: DevStoreTls): ServerCredentials {
  const certificate = readFileSync(tls.certFile)
  const privateKey = readFileSync(tls.keyFile)
  if (tls.caFile === undefined) {
    return ServerCredentials.createSsl(null, [{ cert_chain: certificate, private_key: privateKey }], false)
  }
  const caCertificate = readFileSync(tls.caFile)
  return experimental.createCertificateProviderServerCredentials(
    staticProvider({ caCertificate }, undefined),
    staticProvider(undefined, { certificate, privateKey }),
    false,
  )
}

// A certificate provider whose certificates never change.
function staticProvider(
  ca: experimental.CaCertificateUpdate | undefined,
  identity: experimental.IdentityCertificateUpdate | undefined,
): experimental.CertificateProvider {
  return {
    addCaCertificateListener: (listener) => listener(ca ?? null),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) => listener(identity ?? null),
    removeIdentityCertificateListener: () => undefined,
  }
}
