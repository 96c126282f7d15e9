/**
 * A devstore in a child process (devstore/main.ts), for tests that kill it: started on a data folder,
 * ready once it prints its connection string.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export interface ChildDevStore {
  readonly connectionString: string
  readonly process: ChildProcess
  /** SIGKILL: no shutdown, no flush; resolves when the process is gone. */
  kill(): Promise<void>
  /** SIGTERM: a clean stop; resolves when the process has exited. */
  stop(): Promise<void>
}

const main = fileURLToPath(new URL('../../devstore/main.ts', import.meta.url))

export async function startChildDevStore(dataDir: string, port = 0): Promise<ChildDevStore> {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', main, '--data', dataDir, '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = once(child, 'exit')
  const connectionString = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const line = stdout.split('\n')[0]
      if (stdout.includes('\n') && line !== undefined) resolve(line.trim())
    })
    child.once('exit', (code) =>
      reject(new Error(`devstore exited with ${code} before it was ready:\n${stderr}`)),
    )
  })
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    await exited
  }
  return { connectionString, process: child, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') }
}
