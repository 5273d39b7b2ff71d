import type { JsonObject } from '../json.js';
import type { ResourceCatalog } from './resources.js';
import { apiVersionOf, type ResourceType } from './types.js';

/** The kube version the simulator reports (OpenShift 4.19 ships Kubernetes 1.32). */
export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.5' } as const;

export function versionInfo(): JsonObject {
  return {
    ...KUBE_VERSION,
    gitCommit: 'openshift-sim',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.9',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function groups(catalog: ResourceCatalog): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const type of catalog.types) {
    if (type.group === '') continue;
    const versions = map.get(type.group) ?? new Set<string>();
    versions.add(type.version);
    map.set(type.group, versions);
  }
  return map;
}

function groupObject(name: string, versions: Set<string>): JsonObject {
  const list = [...versions].map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] ?? null };
}

/** `/api` */
export function coreVersions(serverAddress: string): JsonObject {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

/** `/apis` */
export function groupList(catalog: ResourceCatalog): JsonObject {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups(catalog).entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, v]) => groupObject(n, v)),
  };
}

/** `/apis/<group>`, or undefined when the group is not served. */
export function groupInfo(catalog: ResourceCatalog, group: string): JsonObject | undefined {
  const versions = groups(catalog).get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupObject(group, versions) } : undefined;
}

function resourceEntries(type: ResourceType): JsonObject[] {
  const main: JsonObject = {
    name: type.plural,
    singularName: type.singular,
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: [...type.verbs],
  };
  if (type.shortNames.length > 0) main['shortNames'] = [...type.shortNames];
  if (type.categories.length > 0) main['categories'] = [...type.categories];
  const entries = [main];
  if (type.statusSubresource) {
    entries.push({
      name: `${type.plural}/status`,
      singularName: '',
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: ['get', 'patch', 'update'],
    });
  }
  for (const sub of type.subresources ?? []) {
    entries.push({
      name: `${type.plural}/${sub.name}`,
      singularName: '',
      namespaced: type.namespaced,
      group: sub.group,
      version: sub.version,
      kind: sub.kind,
      verbs: [...sub.verbs],
    });
  }
  return entries;
}

/** `/api/v1` or `/apis/<group>/<version>`, or undefined when not served. */
export function resourceList(
  catalog: ResourceCatalog,
  group: string,
  version: string,
): JsonObject | undefined {
  const types = catalog.types.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: types.flatMap(resourceEntries),
  };
}
