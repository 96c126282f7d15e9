import { describe, expect, it } from 'vitest'
import { schemaCommand } from '../../cli/schema-command.ts'

function context() {
  const output = { stdout: '', stderr: '' }
  return {
    output,
    context: {
      stdout: { write: (text: string) => (output.stdout += text) },
      stderr: { write: (text: string) => (output.stderr += text) },
      env: {},
      cwd: process.cwd(),
      signal: new AbortController().signal,
    },
  }
}

describe('annals schema', () => {
  it('prints the SDL of an app module: a mutation per command, queries and subscriptions per read model', async () => {
    const { output, context: ctx } = context()
    expect(await schemaCommand.run(['--app', 'test/e2e/fixtures/tank-app.ts'], ctx)).toBe(0)
    const sdl = output.stdout.replace(/"""[\s\S]*?"""/g, '').replace(/\s+/g, ' ')
    expect(sdl).toContain('fill( id: ID! input: FillInput! commandId: ID ): TankCommandResult!')
    expect(sdl).toContain('seal( id: ID! commandId: ID ): TankCommandResult!')
    expect(sdl).toContain('tankLevel( tankId: ID! consistentWith: String ): TankLevel')
    expect(sdl).toContain('tankLevelList( where: TankLevelWhere orderBy: [TankLevelOrder!]')
    expect(sdl).toContain('tankEvents( id: ID!')
  })

  it('explains its usage when --app is missing', async () => {
    const { output, context: ctx } = context()
    expect(await schemaCommand.run([], ctx)).toBe(2)
    expect(output.stderr).toContain('--app is required')
  })
})
