import type { AllStreamSubscription, StreamSubscription } from '@eventstore/db-client'

type Subscription = StreamSubscription | AllStreamSubscription

/** Everything a subscription says, in the order it says it, until `until` holds. */
export async function recordSubscription(
  subscription: Subscription,
  until: (log: string[]) => boolean,
): Promise<string[]> {
  const log: string[] = []
  subscription.on('confirmation', () => log.push('confirmation'))
  subscription.on('caughtUp', () => log.push('caughtUp'))
  subscription.on('data', (resolved: { event?: { streamId: string; revision: bigint } }) =>
    log.push(`${resolved.event!.streamId}@${resolved.event!.revision}`),
  )
  await new Promise<void>((resolve, reject) => {
    subscription.on('error', reject)
    const check = () => until(log) && resolve()
    subscription.on('data', check)
    subscription.on('caughtUp', check)
  })
  await subscription.unsubscribe()
  return log
}
