/**
 * `@registry-push/testkit/contracts`: the contract suites of the core's ports, as functions that register
 * vitest cases for an implementation (needs `vitest`). See the README for running them against a real
 * cluster and registry.
 *
 * @packageDocumentation
 */
export {
  clusterApiContract,
  type ClusterContractTarget,
  type RawAnswer,
  type RawRequest,
} from './cluster-api.js';
export { registryApiContract, type ContractRegistry, type RegistryContractTarget } from './registry-api.js';
export type { ContractCluster } from '../memory/cluster-types.js';
