import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INSTALL, startPowerPlant, type PowerPlant } from '../example/power-plant-harness.ts'

/** The mutations the example's schema offers, read by introspection (on in tests). */
async function mutationNames(plant: PowerPlant): Promise<string[]> {
  const data = await plant.run<{ __schema: { mutationType: { fields: { name: string }[] } } }>(
    '{ __schema { mutationType { fields { name } } } }',
  )
  return data.__schema.mutationType.fields.map((field) => field.name)
}

describe('internal commands (abuse)', () => {
  let plant: PowerPlant
  beforeAll(async () => {
    plant = await startPowerPlant()
  })
  afterAll(() => plant.close())

  it("leaves the example's reactor-only commands out of the schema and keeps its public ones", async () => {
    const names = await mutationNames(plant)
    expect(names).not.toContain('allocateBattery')
    expect(names).not.toContain('completeDispatch')
    expect(names).toContain('requestDispatch')
  })

  it('refuses a client that sends an internal command as a mutation, with BAD_INPUT and nothing run', async () => {
    await plant.run(INSTALL, { id: 'i-b1', siteId: 'site-i', energyKwh: 8 })
    await plant.run(
      'mutation { requestDispatch(id: "i-d1", input: { siteId: "site-nobody", powerKw: 1, durationMinutes: 5 }) { token } }',
    )
    const errors = await plant.refuse(
      'mutation { allocateBattery(id: "i-d1", input: { batteryId: "i-b1", powerKw: 5000 }) { revision } }',
    )
    expect(errors[0]?.extensions.code).toBe('BAD_INPUT')
    const completing = await plant.refuse('mutation { completeDispatch(id: "i-d1") { revision } }')
    expect(completing[0]?.extensions.code).toBe('BAD_INPUT')
  })
})
