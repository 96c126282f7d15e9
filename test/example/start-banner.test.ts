// `npm start` prints where the service answers: every URL in its banner answers, in development and production.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { reservePorts } from '../cluster/cluster-harness.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Starts example-app/main.ts, returns the banner once it is printed, and stops the process. */
async function banner(env: Record<string, string>): Promise<{ urls: string[] }> {
  const [port] = await reservePorts(1)
  const dataDir = await mkdtemp(join(tmpdir(), 'annals-banner-'))
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'example-app/main.ts'],
    {
      cwd: root,
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', ANNALS_DATA_DIR: dataDir },
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
    return { urls }
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
