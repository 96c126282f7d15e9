import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)

/** Each entry point, its source (what the development condition loads) and exports a user relies on. */
const entryPoints = [
  {
    specifier: 'annals',
    source: '../../framework/index.ts',
    known: ['defineAggregate', 'createEventStoreDbStore'],
  },
  { specifier: 'annals/projections', source: '../../projections/index.ts', known: [] },
  { specifier: 'annals/testing', source: '../../framework/testing/index.ts', known: [] },
  {
    specifier: 'annals/testing/read-side',
    source: '../../projections/testing/index.ts',
    known: ['workflowSpec', 'createTestClock'],
  },
  { specifier: 'annals/devstore', source: '../../devstore/index.ts', known: [] },
] as const

interface Manifest {
  exports: Record<string, Record<string, string>>
  bin: Record<string, string>
}

// Static imports and re-exports (`from '...'`), side-effect imports and dynamic `import('...')` of emitted ESM.
const importPattern =
  /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"'\s]+)["']|^\s*import\s*["']([^"'\s]+)["']|\bimport\(\s*["']([^"'\s]+)["']\s*\)/gm

let scratch = ''
let packedFiles: string[] = []

async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 })
    return stdout
  } catch (error) {
    // tsc reports type errors on stdout; show them rather than only "Command failed".
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    throw new Error(`npm ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: error })
  }
}

// Build, pack and install once, as a user would get the package: from the tarball, without the sources.
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'annals-pack-'))
  await npm(['run', 'build'], root)
  const [packed] = JSON.parse(await npm(['pack', '--json', '--pack-destination', scratch], root)) as {
    filename: string
    files: { path: string }[]
  }[]
  packedFiles = packed!.files.map((file) => file.path)
  const tarball = join(scratch, packed!.filename)
  await writeFile(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
  )
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], scratch)
}, 300_000)

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true })
})

describe('the packed package', { timeout: 120_000 }, () => {
  it('is imported by plain node at every entry point, with the exports of the sources', async () => {
    const script = `const names = {}
for (const specifier of ${JSON.stringify(entryPoints.map((entry) => entry.specifier))})
  names[specifier] = Object.keys(await import(specifier)).sort()
console.log(JSON.stringify(names))`
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch })
    const installed = JSON.parse(stdout) as Record<string, string[]>
    for (const entry of entryPoints) {
      const fromSource = Object.keys((await import(entry.source)) as object).sort()
      expect(installed[entry.specifier], entry.specifier).toEqual(fromSource)
      expect(installed[entry.specifier], entry.specifier).toEqual(expect.arrayContaining([...entry.known]))
    }
  })

  it('ships the JavaScript, declarations and sources its export conditions name, and no tests or fixtures', async () => {
    const folder = join(scratch, 'node_modules', 'annals')
    const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as Manifest
    for (const conditions of Object.values(manifest.exports)) {
      for (const file of Object.values(conditions)) expect(existsSync(join(folder, file)), file).toBe(true)
    }
    const testsOrFixtures = packedFiles.filter((file) =>
      /\.test\.|\.fixture\.|\/fixtures\/|^(dist\/)?(test|bench|example-app)\//.test(file),
    )
    expect(testsOrFixtures).toEqual([])
  })

  it('ships every source file its source maps and declaration maps name', async () => {
    const folder = join(scratch, 'node_modules', 'annals')
    const maps = packedFiles.filter((file) => file.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(0)
    const missing = new Set<string>()
    for (const map of maps) {
      const { sources } = JSON.parse(await readFile(join(folder, map), 'utf8')) as { sources: string[] }
      for (const source of sources) {
        const path = join(folder, dirname(map), source)
        if (!existsSync(path)) missing.add(`${relative(folder, path)} (${map})`)
      }
    }
    expect([...missing]).toEqual([])
  })

  it('ships its LICENSE and every page its README links to', async () => {
    const folder = join(scratch, 'node_modules', 'annals')
    expect(await readFile(join(folder, 'LICENSE'), 'utf8')).toContain('Apache License')
    const readme = await readFile(join(folder, 'README.md'), 'utf8')
    const links = [...readme.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)]
      .map((match) => match[1]!)
      .filter((target) => !/^[a-z]+:/.test(target))
    expect(links.length).toBeGreaterThan(0)
    expect(links.filter((target) => !existsSync(join(folder, target)))).toEqual([])
  })

  it('declares as dependencies every package its JavaScript imports', async () => {
    const folder = join(scratch, 'node_modules', 'annals')
    const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as {
      name: string
      dependencies?: Record<string, string>
    }
    const declared = new Set([manifest.name, ...Object.keys(manifest.dependencies ?? {})])
    const undeclared = new Set<string>()
    for (const file of packedFiles.filter((path) => path.endsWith('.js'))) {
      const source = await readFile(join(folder, file), 'utf8')
      for (const match of source.matchAll(importPattern)) {
        const specifier = match[1] ?? match[2] ?? match[3]!
        if (specifier.startsWith('.')) continue
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : specifier.split('/')[0]!
        if (!name.startsWith('node:') && !builtinModules.includes(name) && !declared.has(name)) {
          undeclared.add(`${name} (${file})`)
        }
      }
    }
    expect([...undeclared]).toEqual([])
  })

  it('emits JavaScript whose relative imports end in .js', async () => {
    const source = await readFile(
      join(scratch, 'node_modules', 'annals', 'dist', 'framework', 'index.js'),
      'utf8',
    )
    const specifiers = [...source.matchAll(/from\s+["'](\.[^"']+)["']/g)].map((match) => match[1]!)
    expect(specifiers.length).toBeGreaterThan(0)
    expect(specifiers.filter((specifier) => !specifier.endsWith('.js'))).toEqual([])
  })

  it('installs the annals command, which runs with node from its shebang', async () => {
    const { stdout } = await run(join(scratch, 'node_modules', '.bin', 'annals'), ['help'], { cwd: scratch })
    expect(stdout).toContain('Usage: annals <command>')
  })
})
