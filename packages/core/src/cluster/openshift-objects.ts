import type { KubeObject } from './client.js';

/** A status condition as operators and routers write them. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** One `spec.routes[]` entry of the registry operator config. */
export interface RegistryRouteSpec {
  name: string;
  hostname?: string;
  secretName?: string;
}

/** `configs.imageregistry.operator.openshift.io/cluster`, the fields the tools read. */
export interface RegistryConfig extends KubeObject {
  spec: {
    managementState?: string;
    defaultRoute?: boolean;
    routes?: RegistryRouteSpec[];
    readOnly?: boolean;
    replicas?: number;
    rolloutStrategy?: string;
    storage?: Record<string, unknown> & { managementState?: string };
  };
  status?: {
    conditions?: Condition[];
    readyReplicas?: number;
    storage?: Record<string, unknown>;
  };
}

/** `route.openshift.io/v1` Route, the fields the tools read. */
export interface Route extends KubeObject {
  spec: {
    host?: string;
    to?: { kind?: string; name: string };
    tls?: { termination?: string; certificate?: string; caCertificate?: string; key?: string };
  };
  status?: {
    ingress?: { host?: string; routerName?: string; conditions?: Condition[] }[];
  };
}

/** `config.openshift.io/v1` Image (`images.config.openshift.io/cluster`). */
export interface ImageConfig extends KubeObject {
  spec: {
    externalRegistryHostnames?: string[];
    additionalTrustedCA?: { name: string };
  };
  status?: {
    internalRegistryHostname?: string;
    externalRegistryHostnames?: string[];
  };
}

/** `image.openshift.io/v1` ImageStream, the fields discovery reads. */
export interface ImageStreamSummary extends KubeObject {
  status?: { dockerImageRepository?: string; publicDockerImageRepository?: string };
}

/** `operator.openshift.io/v1` IngressController. */
export interface IngressController extends KubeObject {
  spec: { defaultCertificate?: { name: string }; domain?: string };
  status?: { domain?: string };
}

/** A Secret or ConfigMap with string data. */
export interface DataObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

/** The named condition of a list, if present. */
export function conditionOf(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/**
 * The `spec` of `imagepruners.imageregistry.operator.openshift.io/cluster`, as the registry operator
 * defines it: the schedule and job settings of its pruner CronJob, and the pruning settings both it and
 * `registry-push`'s pruner follow. Fields not named here (resources, affinity, tolerations, ...) are kept
 * open; every field is optional, as a CR may leave any out (the operator's defaults apply then).
 */
export interface ImagePrunerSpec {
  /** Cron expression of the pruning job (empty: the operator's `0 0 * * *`). */
  schedule?: string;
  /** Stops the scheduled pruning. */
  suspend?: boolean;
  /** Tag revisions kept per tag (operator default 3). */
  keepTagRevisions?: number;
  /** Images younger than this Go duration (`60m`) are kept (operator default 60m). */
  keepYoungerThanDuration?: string;
  /** Deprecated, in nanoseconds; used only when `keepYoungerThanDuration` is absent. */
  keepYoungerThan?: number;
  /** Images whose references cannot be parsed are skipped instead of failing the run. */
  ignoreInvalidImageReferences?: boolean;
  /** Finished jobs kept (operator default 3 each). */
  successfulJobsHistoryLimit?: number;
  failedJobsHistoryLimit?: number;
  /** `Normal`, `Debug`, `Trace`, `TraceAll`. */
  logLevel?: string;
  [field: string]: unknown;
}

/** `imagepruners.imageregistry.operator.openshift.io/cluster`: the registry operator's pruning settings. */
export interface ImagePruner extends KubeObject {
  spec?: ImagePrunerSpec;
  status?: { observedGeneration?: number; conditions?: Condition[] };
}
