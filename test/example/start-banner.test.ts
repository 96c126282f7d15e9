// `npm start` prints where the service answers: every URL in its banner answers, in development and production.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { reservePorts } from '../cluster/cluster-harness.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Starts example-app/main.ts (on loopback unless `env` sets HOST, '' for none), returns the banner once it is
 * printed with what `whileRunning` found, and stops the process.
 */
async function banner<T = undefined>(
  env: Record<string, string>,
  whileRunning?: (port: number) => Promise<T>,
): Promise<{ urls: string[]; found: T | undefined }> {
  const [port] = await reservePorts(1)
  const dataDir = await mkdtemp(join(tmpdir(), 'annals-banner-'))
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'example-app/main.ts'],
    {
      cwd: root,
      env: { ...process.env, HOST: '127.0.0.1', ...env, PORT: String(port), ANNALS_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  try {
    let text = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (/ready on port[\s\S]*\n\n/.test(text)) resolve()
      })
      child.once('exit', (code) => reject(new Error(`main.ts exited with ${code}: ${text}`)))
    })
    // The banner's lines (`  GraphQL   http://…`), not the URLs in the JSON log lines around them.
    const urls = [...text.matchAll(/^ {2}\w+ +(http:\/\/\S+)$/gm)].map((match) =>
      match[1]!.replace('localhost', '127.0.0.1'),
    )
    for (const url of urls) {
      const response = await fetch(url, { headers: { 'x-annals-csrf': '1' } })
      expect(response.status, url).not.toBe(404)
    }
    return { urls, found: await whileRunning?.(port!) }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await rm(dataDir, { recursive: true, force: true })
  }
}

describe('the start banner', () => {
  it('advertises GraphQL and GraphiQL in development, each answering', async () => {
    const { urls } = await banner({ NODE_ENV: 'development' })
    expect(urls.some((url) => url.endsWith('/graphiql'))).toBe(true)
  })

  it('refuses to start in production without an authentication configuration', async () => {
    await expect(banner({ NODE_ENV: 'production', ANNALS_AUTH: '', ANNALS_JWT_SECRET: '' })).rejects.toThrow(
      /exited with 1/,
    )
  })

  it('leaves GraphiQL out in production, where it is off', async () => {
    const { urls } = await banner({ NODE_ENV: 'production', ANNALS_AUTH: 'none', ANNALS_METRICS_PORT: '0' })
    expect(urls.some((url) => url.endsWith('/graphql'))).toBe(true)
    expect(urls.some((url) => url.endsWith('/graphiql'))).toBe(false)
  })
})

/** An IPv4 address of this machine other than loopback: where a neighbour on its network would connect. */
const outward = Object.values(networkInterfaces())
  .flat()
  .find((address) => address?.family === 'IPv4' && !address.internal)?.address

/** What /health/live on `host` answers: its status, or the connection error's code. */
async function liveOn(host: string, port: number): Promise<number | string> {
  try {
    return (await fetch(`http://${host}:${port}/health/live`)).status
  } catch (error) {
    return String((error as { cause?: { code?: string } }).cause?.code)
  }
}

describe.skipIf(outward === undefined)(
  `the development bind (${outward === undefined ? 'skipped: this machine has no address but loopback' : `reached on ${outward}`})`,
  () => {
    const reach = (port: number) => Promise.all([liveOn('127.0.0.1', port), liveOn(outward!, port)])

    it('answers on loopback only when HOST is not set, so its neighbours cannot reach an open service', async () => {
      const { found } = await banner({ NODE_ENV: 'development', HOST: '' }, reach)
      expect(found).toEqual([200, 'ECONNREFUSED'])
    })

    it('answers on every address once HOST says so', async () => {
      const { found } = await banner({ NODE_ENV: 'development', HOST: '0.0.0.0' }, reach)
      expect(found).toEqual([200, 200])
    })
  },
)
