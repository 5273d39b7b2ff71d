/**
 * The validation a real API server does that the core's callers can run into, for the in-memory cluster:
 * object names, ConfigMap and Secret keys, Secret data that is not base64 (400, before validation),
 * container names and negative replica counts (422 with the field causes kube gives).
 */
import type { ClusterObject, ResourceKind } from './cluster-types.js';

/** One field cause of a 422. */
export interface FieldCause {
  field: string;
  message: string;
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** OpenShift names an Image by its digest. */
const IMAGE_NAME = /^sha(256|512):[a-f0-9]+$/;

function nameCauses(type: ResourceKind, object: ClusterObject): FieldCause[] {
  const name = object.metadata.name;
  if (type.apiVersion === 'image.openshift.io/v1' && type.kind === 'Image' && IMAGE_NAME.test(name))
    return [];
  if (name === '' || name.length > 253 || !SUBDOMAIN.test(name)) {
    return [
      {
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      },
    ];
  }
  return [];
}

function keyCauses(kind: string, data: Record<string, unknown> | undefined, field: string): FieldCause[] {
  return Object.keys(data ?? {})
    .filter(
      (key) =>
        key.length > 253 || !CONFIG_KEY.test(key) || key === '.' || key === '..' || key.startsWith('..'),
    )
    .map((key) => ({
      field: `${field}[${key}]`,
      message: `Invalid value: "${key}": a valid ${kind} key must consist of alphanumeric characters, '-', '_' or '.'`,
    }));
}

interface PodSpecLike {
  containers?: { name?: string }[];
}

function containerCauses(spec: PodSpecLike | undefined, field: string): FieldCause[] {
  return (spec?.containers ?? []).flatMap((container, index) => {
    const name = container.name ?? '';
    return name.length > 63 || !LABEL.test(name)
      ? [
          {
            field: `${field}.containers[${index}].name`,
            message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
          },
        ]
      : [];
  });
}

/** What the server would refuse in `object`: a 400 reason, or the causes of a 422 (none: accepted). */
export function causesFor(
  type: ResourceKind,
  object: ClusterObject,
): { badRequest?: string; causes: FieldCause[] } {
  const body = object as ClusterObject & {
    data?: Record<string, unknown>;
    binaryData?: Record<string, unknown>;
    spec?: { replicas?: number; template?: { spec?: PodSpecLike } } & PodSpecLike;
  };
  const key = `${type.apiVersion}/${type.kind}`;
  if (key === 'v1/Secret') {
    const bad = Object.values(body.data ?? {}).find(
      (value) => typeof value !== 'string' || !BASE64.test(value),
    );
    if (bad !== undefined) {
      return {
        badRequest: 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data',
        causes: [],
      };
    }
  }
  const causes = nameCauses(type, object);
  if (key === 'v1/ConfigMap') {
    causes.push(
      ...keyCauses('config key', body.data, 'data'),
      ...keyCauses('config key', body.binaryData, 'binaryData'),
    );
  }
  if (key === 'v1/Secret') causes.push(...keyCauses('secret key', body.data, 'data'));
  if (key === 'v1/Pod') causes.push(...containerCauses(body.spec, 'spec'));
  if (key === 'apps/v1/Deployment') {
    if (typeof body.spec?.replicas === 'number' && body.spec.replicas < 0) {
      causes.push({
        field: 'spec.replicas',
        message: `Invalid value: ${body.spec.replicas}: must be greater than or equal to 0`,
      });
    }
    causes.push(...containerCauses(body.spec?.template?.spec, 'spec.template.spec'));
  }
  if (key === 'image.openshift.io/v1/ImageStream') causes.push(...tagEventCauses(object));
  return { causes };
}

interface ImageStreamStatusLike {
  status?: {
    tags?: { tag?: string; items?: { dockerImageReference?: string; image?: string }[] | null }[] | null;
  };
}

/** The OpenShift API server refuses a tag event without a pull spec or image (422). */
function tagEventCauses(object: ClusterObject): FieldCause[] {
  const tags = (object as ImageStreamStatusLike).status?.tags ?? [];
  return tags.flatMap((tag, t) =>
    (tag.items ?? []).flatMap((item, i) =>
      item.dockerImageReference === '' || item.image === ''
        ? [
            {
              field: `status.tags[${t}].items[${i}]`,
              message: 'Required value: dockerImageReference and image',
            },
          ]
        : [],
    ),
  );
}

/**
 * What the server stores for what it accepted: an ImageStream's status keeps only tags that have history
 * (the OpenShift API server drops a tag whose last event was removed).
 */
export function normalize(type: ResourceKind, object: ClusterObject): void {
  if (type.apiVersion !== 'image.openshift.io/v1' || type.kind !== 'ImageStream') return;
  const status = (object as ImageStreamStatusLike).status;
  if (status?.tags !== undefined && status.tags !== null) {
    status.tags = status.tags.filter((tag) => (tag.items ?? []).length > 0);
  }
}
