import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { clusterEnvironmentNames, ServerEnvironment } from 'annals'
import { describe, expect, it } from 'vitest'

const manifest = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../deploy/k8s/${name}`, import.meta.url)), 'utf8')
const statefulSet = manifest('statefulset.yaml')

/** The `env:` entries of the container: each `- name: X` with the lines that follow it, up to the next. */
function envEntries(yaml: string): Map<string, string> {
  const block = /\n {10}env:\n((?: {12}.*\n)+)/.exec(yaml)?.[1] ?? ''
  const entries = new Map<string, string>()
  for (const part of block.split(/\n(?= {12}- name: )/)) {
    const name = /- name: (\S+)/.exec(part)?.[1]
    if (name !== undefined) entries.set(name, part)
  }
  return entries
}

describe('deploy/k8s', () => {
  const env = envEntries(statefulSet)
  // Variables only used to build others, as $(NAME) in a value.
  const helpers = [...env.keys()].filter((name) => statefulSet.includes(`$(${name})`))

  it('sets only variables the server or sharding reads', () => {
    const read = new Set([...clusterEnvironmentNames, ...Object.keys(ServerEnvironment.shape)])
    const unknown = [...env.keys()].filter((name) => !read.has(name) && !helpers.includes(name))
    expect(unknown).toEqual([])
  })

  it('sets what a sharded replica on Kubernetes needs: its address, its peers and the secret', () => {
    for (const name of [
      'ANNALS_SELF_URL',
      'ANNALS_PEERS_DNS',
      'ANNALS_CLUSTER_SECRET',
      'EVENTSTORE_URL',
      'NODE_ENV',
    ]) {
      expect(env.has(name), name).toBe(true)
    }
    expect(env.get('ANNALS_CLUSTER_SECRET')).toContain('secretKeyRef')
    expect(env.get('ANNALS_SELF_URL')).toContain('$(POD_IP)')
    expect(env.get('POD_IP')).toContain('status.podIP')
  })

  it('finds peers through the headless service it declares, on the port the container serves', () => {
    const peersDns = /value: (\S+)/.exec(env.get('ANNALS_PEERS_DNS')!)![1]!
    // Fully qualified, in the pod's own namespace: node:dns's resolver applies no search domains.
    const [, service] = /^([a-z0-9-]+)\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local$/.exec(peersDns) ?? []
    expect(service, peersDns).toBeDefined()
    expect(env.get('POD_NAMESPACE')).toContain('metadata.namespace')
    const internal = manifest('service-internal.yaml')
    expect(internal).toContain(`name: ${service}`)
    expect(internal).toContain('clusterIP: None')
    expect(statefulSet).toContain(`serviceName: ${service}`)
    const port = /value: ['"](\d+)['"]/.exec(env.get('PORT')!)![1]
    expect(env.get('ANNALS_INTERNAL_PORT')).toMatch(new RegExp(`value: ['"]${port}['"]`))
    expect(statefulSet).toContain(`containerPort: ${port}`)
  })

  it('wires readiness and liveness to the health routes and gives SIGTERM a grace period', () => {
    expect(statefulSet).toMatch(/readinessProbe:\n\s+httpGet:\n\s+path: \/health\/ready/)
    expect(statefulSet).toMatch(/livenessProbe:\n\s+httpGet:\n\s+path: \/health\/live/)
    expect(statefulSet).toMatch(/terminationGracePeriodSeconds: \d+/)
  })

  it('bounds voluntary disruptions to one replica at a time', () => {
    expect(manifest('pdb.yaml')).toContain('maxUnavailable: 1')
  })
})
