import { defineConfig } from 'vitest/config'
import { markdownModules } from './test/docs/markdown-blocks.fixture.ts'

export default defineConfig({
  // The README's example runs as the README shows it (test/readme/).
  plugins: [markdownModules()],
  resolve: {
    conditions: ['development'],
    // One graphql instance: vite would pick graphql's ESM build for our sources while mercurius and graphql-ws
    // (loaded by Node) use its CommonJS build, and graphql refuses a schema from the other instance.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // A throwaway PostgreSQL server for the read-model suites (none where the binaries are absent).
    globalSetup: ['test/postgres-global-setup.ts'],
  },
})
