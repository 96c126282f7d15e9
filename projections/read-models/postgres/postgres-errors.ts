import { AnnalsError, StoreUnavailableError } from '../../../framework/index.ts'
import { RowRefusedError } from '../read-model-store.ts'

/** A commit refused because another replica took the projection's lease over: this one must stop running it. */
export class FencedError extends AnnalsError {
  override readonly name = 'FencedError'
  constructor(readonly projection: string) {
    super(
      'STORE_UNAVAILABLE',
      `Another replica runs projection ${projection} now; this one's commit was refused`,
    )
  }
}

/**
 * Maps a driver error to what the read side does with it: the database unreachable or restarting is
 * STORE_UNAVAILABLE (runners pause and resume, queries answer it); a value the database refuses is a
 * RowRefusedError carrying its message; anything else stays as it is.
 */
export function asStoreError(error: unknown, projection: string): unknown {
  if (error instanceof AnnalsError || error instanceof RowRefusedError) return error
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') {
    // Class 22 is a data exception (NUL in text or jsonb, bad encoding); 54000 a value past a limit (index row size).
    if (code.startsWith('22') || code === '54000') {
      return new RowRefusedError(`PostgreSQL refused the row: ${(error as Error).message}`, { cause: error })
    }
    if (isUnavailableCode(code)) {
      return new StoreUnavailableError(`The read-model database is unavailable (${projection})`, {
        cause: error,
      })
    }
  }
  const message = error instanceof Error ? error.message : ''
  if (
    /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(
      message,
    )
  ) {
    return new StoreUnavailableError(`The read-model database is unavailable (${projection})`, {
      cause: error,
    })
  }
  return error
}

function isUnavailableCode(code: string): boolean {
  return (
    code.startsWith('08') ||
    ['57P01', '57P02', '57P03', '53300', '53400'].includes(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)
  )
}
