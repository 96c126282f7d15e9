import type { CliCommand } from './cli-command.ts'
import { devstoreCommand } from './devstore-command.ts'
import { opsCommand } from './ops-command.ts'
import { schemaCommand } from './schema-command.ts'
import { versionCommand } from './version-command.ts'

/** Every `annals` subcommand, in the order `annals help` lists them. Add one line per subcommand. */
export const commands: readonly CliCommand[] = [devstoreCommand, opsCommand, schemaCommand, versionCommand]
