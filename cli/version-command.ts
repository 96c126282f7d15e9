import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CliCommand } from './cli-command.ts'

/** `annals version`: the installed package's version, found from this file in the sources or in dist/. */
export const versionCommand: CliCommand = {
  name: 'version',
  summary: 'Print the version of annals',
  usage: 'annals version\n\nPrints the version of the installed annals package.',
  async run(_args, context) {
    context.stdout.write(`${await packageVersion()}\n`)
  },
}

async function packageVersion(): Promise<string> {
  let folder = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (manifest.name === 'annals' && manifest.version) return manifest.version
    } catch {
      // No readable package.json here; look in the folder above.
    }
    const parent = dirname(folder)
    if (parent === folder) return 'unknown'
    folder = parent
  }
}
