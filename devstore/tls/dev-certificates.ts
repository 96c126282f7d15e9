/**
 * Throwaway certificates for `annals devstore --tls` without certificate files, as EventStoreDB's dev mode
 * makes them: a CA and a server certificate for localhost and 127.0.0.1, kept under the data folder (reused
 * while valid, so a client's tlsCAFile stays good across restarts), never for anything but development.
 * Keys are RSA 2048 from node:crypto; node-forge builds and signs the certificates.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import forge from 'node-forge'
import type { DevStoreTls } from './dev-store-tls.ts'

const VALID_DAYS = 30
const RENEW_BEFORE_MS = 24 * 60 * 60 * 1000

/** A certificate and its private key, PEM. */
export interface IssuedCertificate {
  readonly certificate: string
  readonly privateKey: string
}

/** The dev CA and server certificate under `<folder>`, made or renewed as needed; their files. */
export function ensureDevCertificates(folder: string): Required<DevStoreTls> {
  const files = {
    caFile: join(folder, 'ca.crt'),
    caKeyFile: join(folder, 'ca.key'),
    certFile: join(folder, 'node.crt'),
    keyFile: join(folder, 'node.key'),
  }
  if (!Object.values(files).every((file) => existsSync(file)) || expiresSoon(files.certFile)) {
    mkdirSync(folder, { recursive: true, mode: 0o700 })
    const ca = issueCertificate({ commonName: 'Annals devstore development CA', ca: true })
    const node = issueCertificate({
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      issuer: ca,
    })
    writeFileSync(files.caKeyFile, ca.privateKey, { mode: 0o600 })
    writeFileSync(files.keyFile, node.privateKey, { mode: 0o600 })
    writeFileSync(files.caFile, ca.certificate)
    writeFileSync(files.certFile, node.certificate)
  }
  return { certFile: files.certFile, keyFile: files.keyFile, caFile: files.caFile }
}

/** The CA's certificate and key as ensureDevCertificates wrote them (to issue client certificates). */
export function readDevCa(folder: string): IssuedCertificate {
  return {
    certificate: readFileSync(join(folder, 'ca.crt'), 'utf8'),
    privateKey: readFileSync(join(folder, 'ca.key'), 'utf8'),
  }
}

export interface CertificateRequest {
  readonly commonName: string
  /** A CA certificate (self-signed), rather than one for a server or a client. */
  readonly ca?: boolean
  readonly dnsNames?: readonly string[]
  readonly ipAddresses?: readonly string[]
  /** Signs with this CA; omitted: self-signed. */
  readonly issuer?: IssuedCertificate
}

/** A certificate for a CA, a server (with DNS and IP names) or a client (its common name the user's name). */
export function issueCertificate(request: CertificateRequest): IssuedCertificate {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  const key = forge.pki.privateKeyFromPem(privateKey)
  const certificate = forge.pki.createCertificate()
  certificate.publicKey = forge.pki.setRsaPublicKey(key.n, key.e)
  // A positive serial: the first byte's high bit clear.
  certificate.serialNumber = `01${randomBytes(15).toString('hex')}`
  certificate.validity.notBefore = new Date(Date.now() - 60_000)
  certificate.validity.notAfter = new Date(Date.now() + VALID_DAYS * 24 * 60 * 60 * 1000)
  certificate.setSubject([{ name: 'commonName', value: request.commonName }])
  const issuer =
    request.issuer === undefined ? undefined : forge.pki.certificateFromPem(request.issuer.certificate)
  certificate.setIssuer(issuer?.subject.attributes ?? certificate.subject.attributes)
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ]
  certificate.setExtensions(
    request.ca === true
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: altNames.length > 0, clientAuth: true },
          ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
        ],
  )
  const signer = request.issuer === undefined ? key : forge.pki.privateKeyFromPem(request.issuer.privateKey)
  certificate.sign(signer, forge.md.sha256.create())
  return { certificate: forge.pki.certificateToPem(certificate), privateKey }
}

function expiresSoon(certFile: string): boolean {
  try {
    const certificate = forge.pki.certificateFromPem(readFileSync(certFile, 'utf8'))
    return certificate.validity.notAfter.getTime() - Date.now() < RENEW_BEFORE_MS
  } catch {
    return true
  }
}
