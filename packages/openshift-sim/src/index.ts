/**
 * A strict local OpenShift for tests and demos: the API subset the registry tools use, the image registry
 * and ingress operators' behaviour, on 127.0.0.1 with its own CA and bearer tokens.
 *
 * @packageDocumentation
 */
export {
  startCluster,
  type ClusterDescription,
  type ClusterOptions,
  type ClusterUser,
  type CustomRole,
  type RunningCluster,
  type UserRole,
  type UserSpec,
} from './cluster.js';
export { ROLE_NAMES, type PolicyRule, type RoleName } from './api/rbac.js';
