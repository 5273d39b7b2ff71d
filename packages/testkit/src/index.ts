/**
 * Real services for tests and demos. Every server binds 127.0.0.1 on a free port, keeps its files in a
 * private temporary directory and is stopped by PID; nothing here is a mock.
 *
 * @packageDocumentation
 */
export { TestkitError, type TestkitErrorCode } from './errors.js';
export { findOnPath, requireBinary, SYSTEM_BINARIES, type SystemBinary } from './binaries.js';
export { freePort } from './ports.js';
export { runningServicePids } from './process.js';
export { startRedis, redisPing, type RedisOptions, type RunningRedis } from './redis.js';
export { registryBlobDir, startRegistry, type RegistryOptions, type RunningRegistry } from './registry.js';
export {
  createCertificateAuthority,
  type CertificateAuthority,
  type CertificateAndKey,
  type LeafCertificateOptions,
} from './pki.js';
export { htpasswdFile } from './htpasswd.js';
export {
  buildCosignArtifact,
  buildOciImage,
  type BuildOciImageOptions,
  type BuiltCosignArtifact,
  type CosignArtifactKind,
  type CosignArtifactOptions,
  type BuiltImage,
  type BuiltLayer,
  type BuiltManifest,
  type Descriptor,
  type ImageFormat,
  type Platform,
} from './oci-image.js';
export { runSkopeo, type SkopeoOptions, type SkopeoResult } from './skopeo.js';
export { makeWorkDir, removeWorkDir } from './workdir.js';
export { httpRequest, probeStatus, type HttpRequestOptions, type HttpResponse } from './http.js';
export { startConnectProxy, type ConnectProxyOptions, type RunningConnectProxy } from './connect-proxy.js';
export {
  startFaultProxy,
  type Fault,
  type FaultProxyOptions,
  type ProxiedRequest,
  type RunningFaultProxy,
} from './fault-proxy.js';
export { MemoryCluster, type MemoryClusterOptions } from './memory/cluster.js';
export {
  PortError,
  portError,
  type ClusterAccessCheck,
  type ClusterListOptions,
  type ClusterObject,
  type ClusterVersionedList,
  type ClusterVersionedListOptions,
  type ClusterWatchEvent,
  type ClusterWatchOptions,
  type ClusterWatchStream,
  type ContractCluster,
  type ObjectMetadata,
  type PortErrorFactory,
  type ResourceKind,
} from './memory/cluster-types.js';
export { MemoryRegistry, MemoryRegistryStorage, type MemoryRegistryOptions } from './memory/registry.js';
export { OPERATOR_CRDS, customResourceDefinition, operatorCrds, type CrdNames } from './crds.js';
