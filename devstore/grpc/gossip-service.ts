/**
 * Gossip.Read: a cluster of one, alive, leader, at the server's own endpoint; esdb+discover:// and
 * multi-host connection strings discover the devstore through it.
 */
import { randomUUID } from 'node:crypto'
import type { DevStoreService } from './service-context.ts'
import { ClusterInfo, EndPoint, GossipService, MemberInfo, UUID } from './protocol.ts'

export function createGossipService(endpoint: {
  readonly host: string
  readonly port: number
}): DevStoreService {
  const instanceId = new UUID()
  instanceId.setString(randomUUID())
  return {
    definition: GossipService,
    implementation: {
      read: (_call: unknown, callback: (error: null, reply: InstanceType<typeof ClusterInfo>) => void) => {
        const httpEndPoint = new EndPoint()
        httpEndPoint.setAddress(endpoint.host)
        httpEndPoint.setPort(endpoint.port)
        const member = new MemberInfo()
        member.setInstanceId(instanceId)
        member.setTimeStamp(String(Date.now() * 10_000))
        member.setState(MemberInfo.VNodeState.LEADER)
        member.setIsAlive(true)
        member.setHttpEndPoint(httpEndPoint)
        const info = new ClusterInfo()
        info.setMembersList([member])
        callback(null, info)
      },
    },
  }
}
