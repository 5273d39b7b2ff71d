import type { KubeObject } from '../cluster/client.js';
import type { ResourceType } from '../cluster/resources.js';
import type { Condition } from '../cluster/openshift-objects.js';

/** Kinds only registry administration reads and writes. */
export const AdminResources = {
  persistentVolumeClaim: {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** Fixed names of registry administration. */
export const AdminNames = {
  /** The secret an admin fills with storage credentials (the operator keeps its own copy). */
  credentialsSecret: 'image-registry-private-configuration-user',
  /** The claim the operator creates when `pvc.claim` is empty. */
  defaultClaim: 'image-registry-storage',
  /** The annotation that marks objects the operator made. */
  operatorAnnotation: 'imageregistry.openshift.io',
  /** The label of the registry's pods. */
  podSelector: 'docker-registry=default',
  imagePruner: 'cluster',
  /** What the pruner's CronJob runs on when `spec.schedule` is empty. */
  defaultPrunerSchedule: '0 0 * * *',
} as const;

/** A PersistentVolumeClaim, the fields storage checks read. */
export interface PersistentVolumeClaim extends KubeObject {
  spec: {
    accessModes?: string[];
    volumeMode?: string;
    storageClassName?: string;
    resources?: { requests?: { storage?: string } };
  };
  status?: { phase?: string };
}

/** A Pod, the fields status reads. */
export interface PodSummary extends KubeObject {
  status?: { phase?: string; conditions?: Condition[] };
}

/** One line of progress from a long admin step. */
export interface AdminProgress {
  step: 'config' | 'storage' | 'secret' | 'patch' | 'wait';
  message: string;
}
