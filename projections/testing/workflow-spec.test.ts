import { describe, it } from 'vitest'
import { SILENCE_MS, watchdog } from '../../test/workflows/watchdog.fixture.ts'
import { workflowSpec } from './workflow-spec.ts'

const start = Date.parse('2026-01-01T00:00:00Z')
const spec = workflowSpec(watchdog, { start: new Date(start) })
const installed = { aggregateId: 'b1', type: 'BatteryInstalled', data: { siteId: 's1', capacityKwh: 10 } }
const report = (percent: number) => ({ aggregateId: 'b1', type: 'ChargeReported', data: { percent } })
const offline = { aggregate: 'Battery', command: 'orderDischarge', aggregateId: 'b1', input: { kw: 0 } }

describe('workflowSpec', () => {
  it('sends what a timer does once its time has passed', async () => {
    ;(await spec.given([installed]).whenTimePasses(SILENCE_MS))
      .thenSent([offline])
      .thenState('b1', { reports: 0, silences: 1 }, 'active')
  })

  it('sends nothing before the timer is due', async () => {
    ;(await spec.given([installed]).whenTimePasses(SILENCE_MS - 1)).thenSentNothing()
  })

  it('waits again from each report: a silence counts from the last one', async () => {
    const later = { ...report(50), at: new Date(start + SILENCE_MS / 2) }
    ;(await spec.given([installed, later]).whenTimePasses(SILENCE_MS)).thenSentNothing()
    ;(await spec.given([installed, later]).whenTimePasses(SILENCE_MS * 1.5)).thenSent([offline])
  })

  it('sends nothing for a timer the history cancelled', async () => {
    const removed = { aggregateId: 'b1', type: 'BatteryRemoved', data: {} }
    ;(await spec.given([installed, removed]).whenTimePasses(10 * SILENCE_MS))
      .thenSentNothing()
      .thenState('b1', { reports: 0, silences: 0 }, 'completed')
  })
})
