import { AnnalsError } from '../errors.ts'

/** The host found, after a conflict, that another replica owns the aggregate now: route it there. */
export class NotOwnerError extends AnnalsError {
  override readonly name = 'NotOwnerError'
  constructor(aggregate: string, id: string) {
    super('OWNER_UNAVAILABLE', `${aggregate} ${id} moved to another replica`)
  }
}
