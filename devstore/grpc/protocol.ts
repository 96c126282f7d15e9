/**
 * The generated gRPC service definitions and message classes that ship with @eventstore/db-client. The
 * devstore builds every reply with these same module instances: the serializers check `instanceof`.
 */
import gossipGrpc from '@eventstore/db-client/generated/gossip_grpc_pb.js'
import gossipPb from '@eventstore/db-client/generated/gossip_pb.js'
import serverFeaturesGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js'
import serverFeaturesPb from '@eventstore/db-client/generated/serverfeatures_pb.js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import statusPb from '@eventstore/db-client/generated/status_pb.js'
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js'
import streamsPb from '@eventstore/db-client/generated/streams_pb.js'
import anyPb from 'google-protobuf/google/protobuf/any_pb.js'
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js'

export const { StreamsService } = streamsGrpc
export const { ServerFeaturesService } = serverFeaturesGrpc
export const { GossipService } = gossipGrpc
export const { ReadReq, ReadResp, AppendReq, AppendResp, BatchAppendReq, BatchAppendResp } = streamsPb
export const { DeleteReq, DeleteResp, TombstoneReq, TombstoneResp } = streamsPb
export const { Empty, UUID, StreamIdentifier, AllStreamPosition, WrongExpectedVersion, StreamDeleted } =
  sharedPb
export const { AccessDenied, MaximumAppendSizeExceeded, Timeout, Unknown } = sharedPb
export const { Status } = statusPb
export const { Any } = anyPb
export const GoogleEmpty = emptyPb.Empty
export const { SupportedMethods, SupportedMethod } = serverFeaturesPb
export const { ClusterInfo, MemberInfo, EndPoint } = gossipPb

export type ReadReq = InstanceType<typeof ReadReq>
export type ReadResp = InstanceType<typeof ReadResp>
export type AppendReq = InstanceType<typeof AppendReq>
export type AppendResp = InstanceType<typeof AppendResp>
export type BatchAppendReq = InstanceType<typeof BatchAppendReq>
export type BatchAppendResp = InstanceType<typeof BatchAppendResp>
export type DeleteReq = InstanceType<typeof DeleteReq>
export type DeleteResp = InstanceType<typeof DeleteResp>
export type TombstoneReq = InstanceType<typeof TombstoneReq>
export type TombstoneResp = InstanceType<typeof TombstoneResp>
export type StreamIdentifier = InstanceType<typeof StreamIdentifier>
export type UUID = InstanceType<typeof UUID>
