/**
 * Errors the engine throws. The devstore depends on nothing of ours, so these stand alone; each carries a
 * stable `code` the gRPC layer maps to a status (InvalidPositionError -> INVALID_ARGUMENT, a damaged log
 * (DATA_CORRUPT) -> INTERNAL, the others -> UNAVAILABLE).
 */
export class EngineError extends Error {
  override readonly name: string = 'EngineError'
  constructor(
    readonly code:
      'INVALID_POSITION' | 'DATA_DIR_LOCKED' | 'DATA_CORRUPT' | 'ENGINE_CLOSED' | 'ENGINE_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A `$all` position that is neither an event's position nor the end of the log. */
export class InvalidPositionError extends EngineError {
  override readonly name = 'InvalidPositionError'
  constructor(readonly position: bigint) {
    super('INVALID_POSITION', `Position ${position} is not the position of an event in $all`)
  }
}

/** Another live process holds the data directory's lock file. */
export class DataDirLockedError extends EngineError {
  override readonly name = 'DataDirLockedError'
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super('DATA_DIR_LOCKED', `The devstore data directory ${dataDir} is locked by process ${pid}`)
  }
}

/**
 * A record in the middle of the log is damaged (its length or checksum is wrong) while whole, valid commits
 * follow it: not a torn tail, so cutting it would delete acknowledged events. Opening refuses and changes
 * nothing; the file must be repaired or restored by hand.
 */
export class DataCorruptError extends EngineError {
  override readonly name = 'DataCorruptError'
  constructor(
    readonly file: string,
    readonly badOffset: number,
    readonly nextValidOffset: number,
  ) {
    super(
      'DATA_CORRUPT',
      `The devstore log ${file} has a damaged record at offset ${badOffset} followed by valid records ` +
        `from offset ${nextValidOffset}; it is corrupt, not torn, so nothing was cut or changed`,
    )
  }
}

/**
 * A record read from the log does not match its checksum (or its length cannot be right): its bytes were
 * damaged on disk after they were written. The read fails rather than serve them; the log is left as it is.
 */
export class DamagedRecordError extends EngineError {
  override readonly name = 'DamagedRecordError'
  constructor(
    readonly file: string,
    readonly badOffset: number,
  ) {
    super(
      'DATA_CORRUPT',
      `The devstore log ${file} has a damaged record at offset ${badOffset}: its bytes do not match its ` +
        `checksum, so it was not served`,
    )
  }
}

export class EngineClosedError extends EngineError {
  override readonly name = 'EngineClosedError'
  constructor() {
    super('ENGINE_CLOSED', 'The devstore engine is closed')
  }
}

/** A write or fsync failed: the engine refuses further work rather than guess what reached the disk. */
export class EngineFailedError extends EngineError {
  override readonly name = 'EngineFailedError'
  constructor(cause: unknown) {
    super('ENGINE_FAILED', 'The devstore log could not be written; reopen the engine to recover', { cause })
  }
}
