import { createHash, timingSafeEqual } from 'node:crypto'
import { Agent, request, type IncomingMessage } from 'node:http'
import { AnnalsError } from '../../errors.ts'

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
  /**
   * POSTs an encoded JSON body; a 200 answer in newline-delimited JSON goes to `onLine` line by line as it
   * arrives (the reply's body is then undefined), any other answer is read as post reads it.
   */
  postLines(url: string, path: string, payload: string, options: PostLinesOptions): Promise<PeerReply>
  get(url: string, path: string, options: PostOptions): Promise<PeerReply>
  close(): void
}

export interface PostOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal
}

export interface PostLinesOptions {
  /** Socket inactivity bound; the caller bounds the whole request with `signal`. */
  readonly timeoutMs: number
  readonly signal: AbortSignal
  readonly onLine: (line: unknown) => void
}

/** The header that carries the shared secret on the internal channel. */
export const CLUSTER_AUTH_HEADER = 'authorization'

/** The media type of an answer streamed as newline-delimited JSON. */
export const NDJSON = 'application/x-ndjson'

interface SendOptions {
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
  readonly payload?: string | undefined
  readonly onLine?: ((line: unknown) => void) | undefined
}

/**
 * Creates the client of the internal channel: JSON over node:http with a keep-alive pool per peer (no
 * dependency beyond Node), every request carrying the cluster's shared secret as a bearer token.
 */
export function createPeerClient(options: { secret: string | undefined; maxSockets?: number }): PeerClient {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64, keepAliveMsecs: 1000 })
  const authorization = options.secret === undefined ? undefined : `Bearer ${options.secret}`
  const send = (method: 'GET' | 'POST', url: string, path: string, opts: SendOptions) =>
    new Promise<PeerReply>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new PeerUnreachableError(url, 'aborted before sending'))
      const payload = opts.payload
      const headers: Record<string, string | number> = { accept: 'application/json' }
      if (payload !== undefined) {
        headers['content-type'] = 'application/json'
        headers['content-length'] = Buffer.byteLength(payload)
      }
      if (authorization !== undefined) headers[CLUSTER_AUTH_HEADER] = authorization
      const req = request(new URL(path, url), { method, agent, headers, timeout: opts.timeoutMs })
      let settled = false
      const fail = (reason: string, cause?: unknown) => {
        if (settled) return
        settled = true
        opts.signal?.removeEventListener('abort', onAbort)
        reject(new PeerUnreachableError(url, reason, cause === undefined ? undefined : { cause }))
        req.destroy()
      }
      const succeed = (reply: PeerReply) => {
        if (settled) return
        settled = true
        opts.signal?.removeEventListener('abort', onAbort)
        resolve(reply)
      }
      const onAbort = () => fail('aborted')
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      req.on('timeout', () => fail(`no answer within ${opts.timeoutMs} ms`))
      req.on('error', (error) => fail(error.message, error))
      req.on('response', (res) => {
        res.on('error', (error) => fail(error.message, error))
        res.on('close', () => {
          if (!res.complete) fail('the answer was cut off')
        })
        const status = res.statusCode ?? 0
        if (opts.onLine !== undefined && status === 200 && res.headers['content-type'] === NDJSON) {
          readLines(res, opts.onLine, fail, () => succeed({ status, body: undefined }))
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          if (settled) return
          const text = Buffer.concat(chunks).toString('utf8')
          try {
            succeed({ status, body: text === '' ? undefined : JSON.parse(text) })
          } catch (cause) {
            fail('answered with malformed JSON', cause)
          }
        })
      })
      req.end(payload)
    })
  return {
    post: (url, path, body, opts) =>
      send('POST', url, path, { ...opts, payload: JSON.stringify(body ?? {}) }),
    postLines: (url, path, payload, opts) => send('POST', url, path, { ...opts, payload }),
    get: (url, path, opts) => send('GET', url, path, opts),
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

/** Hands each complete line of a newline-delimited JSON answer over as soon as it arrives. */
function readLines(
  res: IncomingMessage,
  onLine: (line: unknown) => void,
  fail: (reason: string, cause?: unknown) => void,
  done: () => void,
): void {
  let rest = ''
  const take = (text: string) => {
    if (text === '') return true
    try {
      onLine(JSON.parse(text))
      return true
    } catch (cause) {
      fail('answered with malformed JSON', cause)
      return false
    }
  }
  res.setEncoding('utf8')
  res.on('data', (chunk: string) => {
    const text = rest + chunk
    let start = 0
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      if (!take(text.slice(start, end))) return
      start = end + 1
    }
    rest = text.slice(start)
  })
  res.on('end', () => {
    if (take(rest)) done()
  })
}
