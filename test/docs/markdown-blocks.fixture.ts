/**
 * The fenced code blocks of the project's markdown, so that tests run what the docs show rather than a copy:
 * `markdownBlocks` lists them, and the vite plugin serves a TypeScript block as a module a test imports
 * (`import('markdown:README.md/0.ts')`: the README's first ts block), resolving its imports as the repository's own.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'vite'

export interface MarkdownBlock {
  /** The fence's language: ts, graphql, sh, ... */
  readonly lang: string
  readonly code: string
  /** The 1-based line of the opening fence, to name the block in a test's title. */
  readonly line: number
  /** What an `<!-- answers CODE -->` comment just above the fence says the block's operation fails with. */
  readonly answers?: string
}

export const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url))

const fence = /^```(\w*)\n([\s\S]*?)^```$/gm
const answersComment = /<!--\s*answers\s+([A-Z][A-Z0-9_]*)\s*-->\s*$/

/** Every fenced block of a markdown file (a path from the repository's root), in order. */
export function markdownBlocks(file: string, lang?: string): MarkdownBlock[] {
  const text = readFileSync(join(repositoryRoot, file), 'utf8')
  const blocks: MarkdownBlock[] = []
  for (const match of text.matchAll(fence)) {
    const before = text.slice(0, match.index)
    const answers = answersComment.exec(before)?.[1]
    blocks.push({
      lang: match[1] ?? '',
      code: match[2] ?? '',
      line: before.split('\n').length,
      ...(answers ? { answers } : {}),
    })
  }
  return lang === undefined ? blocks : blocks.filter((block) => block.lang === lang)
}

const prefix = 'markdown:'
// A path under the root that does not exist: vite resolves the block's bare imports from the root.
const virtualFolder = join(repositoryRoot, '.markdown-blocks')

/** Serves `markdown:<file>/<n>.ts`, the n-th (from 0) ts block of <file>, as a module. */
export function markdownModules(): Plugin {
  return {
    name: 'annals-markdown-blocks',
    resolveId(id) {
      return id.startsWith(prefix) ? join(virtualFolder, id.slice(prefix.length)) : undefined
    },
    load(id) {
      if (!id.startsWith(virtualFolder)) return undefined
      const [, file, index] = /^(.*)\/(\d+)\.ts$/.exec(id.slice(virtualFolder.length + 1)) ?? []
      const block = file === undefined ? undefined : markdownBlocks(file, 'ts')[Number(index)]
      if (!block) throw new Error(`No ts block ${index} in ${file}`)
      return block.code
    },
  }
}
