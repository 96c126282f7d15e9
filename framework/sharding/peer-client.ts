import { createHash, timingSafeEqual } from 'node:crypto'
import { Agent, request } from 'node:http'
import { AnnalsError } from '../errors.ts'

/** A request to a peer failed at the transport (refused, reset, timed out, aborted): try another owner. */
export class PeerUnreachableError extends AnnalsError {
  override readonly name = 'PeerUnreachableError'
  constructor(
    readonly url: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('OWNER_UNAVAILABLE', `Replica ${url} cannot be reached: ${reason}`, options)
  }
}

export interface PeerReply {
  readonly status: number
  readonly body: unknown
}

export interface PeerClient {
  /** POSTs JSON to a peer's internal route; resolves with any HTTP answer, rejects with PeerUnreachableError. */
  post(url: string, path: string, body: unknown, options: PostOptions): Promise<PeerReply>
  get(url: string, path: string, options: PostOptions): Promise<PeerReply>
  close(): void
}

export interface PostOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

/** The header that carries the shared secret on the internal channel. */
export const CLUSTER_AUTH_HEADER = 'authorization'

/**
 * Creates the client of the internal channel: JSON over node:http with a keep-alive pool per peer (no
 * dependency beyond Node), every request carrying the cluster's shared secret as a bearer token.
 */
export function createPeerClient(options: { secret: string | undefined; maxSockets?: number }): PeerClient {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64, keepAliveMsecs: 1000 })
  const authorization = options.secret === undefined ? undefined : `Bearer ${options.secret}`
  const send = (method: 'GET' | 'POST', url: string, path: string, body: unknown, opts: PostOptions) =>
    new Promise<PeerReply>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new PeerUnreachableError(url, 'aborted before sending'))
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      const headers: Record<string, string | number> = { accept: 'application/json' }
      if (payload !== undefined) {
        headers['content-type'] = 'application/json'
        headers['content-length'] = payload.length
      }
      if (authorization !== undefined) headers[CLUSTER_AUTH_HEADER] = authorization
      const target = new URL(path, url)
      const req = request(target, { method, agent, headers, timeout: opts.timeoutMs })
      let settled = false
      const fail = (reason: string, cause?: unknown) => {
        if (settled) return
        settled = true
        opts.signal?.removeEventListener('abort', onAbort)
        reject(new PeerUnreachableError(url, reason, cause === undefined ? undefined : { cause }))
        req.destroy()
      }
      const onAbort = () => fail('aborted')
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      req.on('timeout', () => fail(`no answer within ${opts.timeoutMs} ms`))
      req.on('error', (error) => fail(error.message, error))
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', (error) => fail(error.message, error))
        res.on('end', () => {
          if (settled) return
          settled = true
          opts.signal?.removeEventListener('abort', onAbort)
          const text = Buffer.concat(chunks).toString('utf8')
          try {
            resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) })
          } catch (cause) {
            reject(new PeerUnreachableError(url, 'answered with malformed JSON', { cause }))
          }
        })
      })
      req.end(payload)
    })
  return {
    post: (url, path, body, opts) => send('POST', url, path, body ?? {}, opts),
    get: (url, path, opts) => send('GET', url, path, undefined, opts),
    close: () => agent.destroy(),
  }
}

/** Whether an Authorization header carries the secret; compares digests in constant time. */
export function carriesSecret(header: string | undefined, secret: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const given = createHash('sha256').update(header.slice('Bearer '.length)).digest()
  const expected = createHash('sha256').update(secret).digest()
  return timingSafeEqual(given, expected)
}
