import type { JsonObject } from '../json.js';
import type { Authorizer, Subject } from './rbac.js';
import type { Schema } from './schema.js';
import type { StatusCause } from './status.js';
import type { ObjectStore } from './store.js';

/** Facts about the cluster that strategies read while handling a request. */
export interface ClusterFacts {
  appsDomain: string;
  /** `image-registry.openshift-image-registry.svc:5000` */
  internalRegistryHostname: string;
}

/** What a strategy can see about the request it is part of. */
export interface RequestContext {
  store: ObjectStore;
  authorizer: Authorizer;
  user: Subject;
  facts: ClusterFacts;
  namespace: string;
}

/** Per-resource behaviour on top of the generic create/update/delete. */
export interface Strategy {
  /** Normalises a new object before validation (defaults, generated fields, dropped status). */
  prepareCreate?(object: JsonObject, ctx: RequestContext): void;
  /** Normalises an update of the main resource (old status kept by the generic code already). */
  prepareUpdate?(object: JsonObject, old: JsonObject, ctx: RequestContext): void;
  /** Normalises an update through the status subresource (old spec kept by the generic code already). */
  prepareStatusUpdate?(object: JsonObject, old: JsonObject, ctx: RequestContext): void;
  /** Kind-specific validation; the generic code already checked metadata and the CRD schema. */
  validate?(object: JsonObject, old: JsonObject | undefined, ctx: RequestContext): StatusCause[];
  /** Fields computed on every read (e.g. an ImageStream's repository hosts). */
  decorate?(object: JsonObject, ctx: RequestContext): void;
  /** Values of the fields a field selector may use, besides metadata.name and metadata.namespace. */
  fields?(object: JsonObject): Record<string, string>;
}

/** How names of a resource are checked. */
export type NameRule = 'dns-subdomain' | 'dns-label' | 'path-segment' | 'image-stream';

/** A subresource other than `/status`, served by its own handler (`serviceaccounts/token`). */
export interface ExtraSubresource {
  name: string;
  /** The kind it takes and answers, in its own group. */
  group: string;
  version: string;
  kind: string;
  verbs: readonly string[];
}

/** One served resource type. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: readonly string[];
  categories: readonly string[];
  verbs: readonly string[];
  /** Has a `/status` subresource with kube's split (main writes keep status, status writes keep spec). */
  statusSubresource: boolean;
  /** Built-in kinds accept strategic merge patches; custom resources answer 415. */
  builtin: boolean;
  nameRule: NameRule;
  /** PUT without metadata.resourceVersion is refused (422), as for images and imagestreams. */
  requireResourceVersion: boolean;
  /** DELETE answers with a Status instead of the deleted object. */
  deleteReturnsStatus: boolean;
  /** The kind's strategy maintains `metadata.generation` (workloads, image streams, custom resources). */
  hasGeneration: boolean;
  /** Structural schema of a CRD-backed resource. */
  schema?: Schema;
  strategy?: Strategy;
  /** Extra field-selector fields. */
  selectableFields: readonly string[];
  /** Subresources besides `/status`. */
  subresources?: readonly ExtraSubresource[];
}

/** `apps/v1`, or `v1` for the core group. */
export function apiVersionOf(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}
