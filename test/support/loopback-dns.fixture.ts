import { createSocket, type RemoteInfo } from 'node:dgram'
import dnsPacket, { type Answer, type Question } from 'dns-packet'

/** The records a name answers, as a Kubernetes headless Service gives them. */
export interface DnsRecords {
  /** One address per ready pod. */
  readonly a?: readonly string[]
  readonly aaaa?: readonly string[]
  /** One per pod for a named port (`_port._tcp.service...`): the pod's name and the port. */
  readonly srv?: readonly { readonly target: string; readonly port: number }[]
}

/** How the server treats queries: answer them, fail them (SERVFAIL), or drop them (the client times out). */
export type DnsBehaviour = 'answer' | 'servfail' | 'drop'

export interface LoopbackDns {
  /** `127.0.0.1:port`, as ANNALS_DNS_SERVERS takes it. */
  readonly address: string
  readonly port: number
  /** Sets (or with undefined removes) the records of a name; a name without records is NXDOMAIN. */
  set(name: string, records: DnsRecords | undefined): void
  behave(behaviour: DnsBehaviour): void
  /** Every query received so far, as `TYPE name`. */
  readonly queries: readonly string[]
  /** Resolves with the next query received (whatever the behaviour). */
  nextQuery(): Promise<string>
  /** Stops answering: a query then meets a closed port. Safe to call twice. */
  close(): Promise<void>
}

const RCODE_SERVFAIL = 2
const RCODE_NXDOMAIN = 3
const ttl = 1

/**
 * Starts an authoritative DNS server on a free UDP port of 127.0.0.1 that answers A, AAAA and SRV queries
 * from records the test sets, so peer discovery is tested against real DNS packets and node:dns's resolver.
 */
export async function startLoopbackDns(): Promise<LoopbackDns> {
  const socket = createSocket('udp4')
  const zone = new Map<string, DnsRecords>()
  const queries: string[] = []
  const waiting: ((query: string) => void)[] = []
  let behaviour: DnsBehaviour = 'answer'
  let closed = false

  socket.on('message', (message: Buffer, from: RemoteInfo) => {
    let query: ReturnType<typeof dnsPacket.decode>
    try {
      query = dnsPacket.decode(message)
    } catch {
      return
    }
    const question = query.questions?.[0]
    if (question === undefined) return
    const seen = `${question.type} ${canonical(question.name)}`
    queries.push(seen)
    for (const resolve of waiting.splice(0)) resolve(seen)
    if (behaviour === 'drop') return
    const reply = behaviour === 'servfail' ? failure(RCODE_SERVFAIL) : answer(zone, question)
    socket.send(
      dnsPacket.encode({ ...reply, id: query.id ?? 0, questions: [question] }),
      from.port,
      from.address,
    )
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject)
      resolve()
    })
  })
  const port = socket.address().port

  return {
    address: `127.0.0.1:${port}`,
    port,
    set(name, records) {
      if (records === undefined) zone.delete(canonical(name))
      else zone.set(canonical(name), records)
    },
    behave(next) {
      behaviour = next
    },
    queries,
    nextQuery: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise((resolve) => socket.close(() => resolve()))
    },
  }
}

type Reply = Pick<dnsPacket.Packet, 'type' | 'flags' | 'answers'>

function answer(zone: ReadonlyMap<string, DnsRecords>, question: Question): Reply {
  const name = canonical(question.name)
  const records = zone.get(name)
  if (records === undefined) return failure(RCODE_NXDOMAIN)
  const answers: Answer[] = []
  if (question.type === 'A') for (const data of records.a ?? []) answers.push({ type: 'A', name, ttl, data })
  if (question.type === 'AAAA')
    for (const data of records.aaaa ?? []) answers.push({ type: 'AAAA', name, ttl, data })
  if (question.type === 'SRV')
    for (const { target, port } of records.srv ?? [])
      answers.push({ type: 'SRV', name, ttl, data: { priority: 0, weight: 100, port, target } })
  return { type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER, answers }
}

function failure(rcode: number): Reply {
  return { type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER | rcode, answers: [] }
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}
