// GraphiQL loads and answers with no network: its assets come from installed packages, not from a CDN.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'

// Debian's chromium package (apt-get install chromium); playwright-core drives it, and downloads nothing.
const executablePath = '/usr/bin/chromium'
const installed = existsSync(executablePath)

describe.skipIf(!installed)(
  `GraphiQL in headless Chromium, offline${installed ? '' : ` (skipped: ${executablePath} is not installed)`}`,
  () => {
    let gateway: RunningGateway
    let browser: BrowserContext
    let profile: string
    const elsewhere: string[] = []

    beforeAll(async () => {
      gateway = await startGateway()
      profile = await mkdtemp(join(tmpdir(), 'annals-chromium-'))
      browser = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          // No name but loopback resolves: the page cannot reach any other host, as on a machine offline.
          '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
        ],
      })
      browser.on('request', (request) => {
        const { hostname } = new URL(request.url())
        if (hostname !== '127.0.0.1') elsewhere.push(request.url())
      })
    })
    afterAll(async () => {
      await browser?.close()
      await gateway?.close()
      if (profile) await rm(profile, { recursive: true, force: true }).then(() => undefined)
    })

    it('renders the editor from local assets and runs a query against the gateway', async () => {
      const page = await browser.newPage()
      const failures: string[] = []
      page.on('pageerror', (error) => failures.push(error.message))
      page.on('requestfailed', (request) => failures.push(request.url()))
      await page.goto(`${gateway.url}/graphiql`)
      const editor = page.locator('.graphiql-query-editor .CodeMirror')
      await editor.waitFor()
      await editor.click()
      await page.keyboard.press('Control+A')
      await page.keyboard.type('{ __typename }')
      await page.locator('.graphiql-execute-button').click()
      await page.locator('.graphiql-response').getByText('"Query"').waitFor()
      expect(failures).toEqual([])
      expect(elsewhere).toEqual([])
    })
  },
)
