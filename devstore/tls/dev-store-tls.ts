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
  // One provider in both places: grpc-js 1.14 passes the two to its constructor in the other order.
  const provider = staticProvider({ caCertificate }, { certificate, privateKey })
  return experimental.createCertificateProviderServerCredentials(provider, provider, false)
}

// A certificate provider whose certificates never change. It answers a listener on the next turn: grpc-js
// adds its listeners before the watcher that applies what they hear, so an answer at once would be lost.
function staticProvider(
  ca: experimental.CaCertificateUpdate,
  identity: experimental.IdentityCertificateUpdate,
): experimental.CertificateProvider {
  return {
    addCaCertificateListener: (listener) => setImmediate(() => listener(ca)),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) => setImmediate(() => listener(identity)),
    removeIdentityCertificateListener: () => undefined,
  }
}
