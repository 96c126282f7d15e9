/**
 * The import rules `npm run lint` checks (dependency-cruiser): no cycles, and the packages meet only at their
 * entry points, so that what a package uses of another is what that package publishes.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle makes load order matter and hides which module owns an idea.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'projections-through-the-entry',
      comment:
        'annals/projections uses the framework through its public entry (framework/index.ts), as a user would, ' +
        'and through framework/internal.ts for what the two share that is no API (back-off, zod inspection).',
      severity: 'error',
      from: { path: '^projections/', pathNot: '\\.test\\.ts$' },
      to: { path: '^framework/', pathNot: '^framework/(index|internal)\\.ts$' },
    },
    {
      name: 'framework-knows-no-read-side-or-devstore',
      comment:
        'The server takes a read side and a store as values; it imports neither package, save the devstore ' +
        'that the zero-setup default loads on demand (a dynamic import of its entry).',
      severity: 'error',
      from: { path: '^framework/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(projections|devstore)/', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'devstore-on-demand-through-its-entry',
      severity: 'error',
      from: { path: '^framework/' },
      to: { path: '^devstore/', pathNot: '^devstore/index\\.ts$', dependencyTypes: ['dynamic-import'] },
    },
    {
      name: 'devstore-stands-alone',
      comment: 'The devstore is an EventStoreDB server; it knows nothing of the framework.',
      severity: 'error',
      from: { path: '^devstore/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(framework|projections)/' },
    },
    {
      name: 'no-test-support-in-production',
      comment: 'Fixtures and test helpers are not shipped; production code must not need them.',
      severity: 'error',
      from: { path: '^(framework|projections|devstore|cli)/', pathNot: '\\.(test|fixture)\\.ts$' },
      to: { path: '(\\.fixture\\.ts$|^test/|/fixtures/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
