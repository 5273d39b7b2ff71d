import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  loadCrd,
  loadCrdFile,
  prepareObject,
  unsupportedRules,
  type CompiledCrd,
  type FieldCause,
  type Schema,
} from '../src/api/schema.js';
import type { JsonObject, JsonValue } from '../src/json.js';

const CRD_FILES = {
  configs: '00_configs.crd.yaml',
  imagepruners: '01_imagepruners.crd.yaml',
  routes: 'routes.crd.yaml',
  images: '0000_10_config-operator_01_images.crd.yaml',
  ingresses: '0000_10_config-operator_01_ingresses-Default.crd.yaml',
  ingresscontrollers: '0000_50_ingress_00_ingresscontrollers-Default.crd.yaml',
} as const;

function crd(name: keyof typeof CRD_FILES): CompiledCrd {
  return loadCrdFile(fileURLToPath(new URL(`../crds/${CRD_FILES[name]}`, import.meta.url)));
}

function schemaOf(name: keyof typeof CRD_FILES): Schema {
  const version = crd(name).versions.find((v) => v.storage);
  if (!version) throw new Error(`${name} has no storage version`);
  return version.schema;
}

const configSchema = schemaOf('configs');
const prunerSchema = schemaOf('imagepruners');
const routeSchema = schemaOf('routes');
const imageSchema = schemaOf('images');
const ingressSchema = schemaOf('ingresses');
const controllerSchema = schemaOf('ingresscontrollers');

function deepFreeze<T extends JsonValue>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function registryConfig(spec: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    apiVersion: 'imageregistry.operator.openshift.io/v1',
    kind: 'Config',
    metadata: { name: 'cluster' },
    spec: { managementState: 'Managed', replicas: 1, ...spec },
    ...extra,
  };
}

function route(spec: JsonObject): JsonObject {
  return {
    apiVersion: 'route.openshift.io/v1',
    kind: 'Route',
    metadata: { name: 'registry', namespace: 'openshift-image-registry' },
    spec: { to: { kind: 'Service', name: 'image-registry' }, ...spec },
  };
}

function controller(spec: JsonObject, name = 'default'): JsonObject {
  return {
    apiVersion: 'operator.openshift.io/v1',
    kind: 'IngressController',
    metadata: { name, namespace: 'openshift-ingress-operator' },
    spec,
  };
}

function causesOf(schema: Schema, object: JsonObject, old?: JsonObject): FieldCause[] {
  return prepareObject(schema, object, old).result.causes;
}

function fields(causes: FieldCause[]): string[] {
  return causes.map((cause) => cause.field);
}

const NOT_CHECKED = 'some validation rules were not checked because the object was invalid';

describe('loadCrd', () => {
  it('loads all six CRDs with their names, scope and subresources', () => {
    const summary = Object.keys(CRD_FILES).map((name) => {
      const loaded = crd(name as keyof typeof CRD_FILES);
      const version = loaded.versions[0];
      return [
        `${loaded.plural}.${loaded.group}`,
        loaded.kind,
        loaded.listKind,
        loaded.scope,
        version?.name,
        version?.storage,
        version?.subresources.status,
        version?.subresources.scale,
      ];
    });
    expect(summary).toEqual([
      [
        'configs.imageregistry.operator.openshift.io',
        'Config',
        'ConfigList',
        'Cluster',
        'v1',
        true,
        true,
        false,
      ],
      [
        'imagepruners.imageregistry.operator.openshift.io',
        'ImagePruner',
        'ImagePrunerList',
        'Cluster',
        'v1',
        true,
        true,
        false,
      ],
      ['routes.route.openshift.io', 'Route', 'RouteList', 'Namespaced', 'v1', true, true, false],
      ['images.config.openshift.io', 'Image', 'ImageList', 'Cluster', 'v1', true, true, false],
      ['ingresses.config.openshift.io', 'Ingress', 'IngressList', 'Cluster', 'v1', true, true, false],
      [
        'ingresscontrollers.operator.openshift.io',
        'IngressController',
        'IngressControllerList',
        'Namespaced',
        'v1',
        true,
        true,
        true,
      ],
    ]);
    expect(crd('routes').singular).toBe('route');
    expect(crd('ingresses').categories).toEqual([]);
  });

  it('rejects documents that are not well-formed v1 CRDs', () => {
    expect(() => loadCrd('apiVersion: v1\nkind: ConfigMap\n')).toThrow(/CustomResourceDefinition/);
    const misnamed = SYNTHETIC_CRD.replace('name: widgets.example.com', 'name: gadgets.example.com');
    expect(() => loadCrd(misnamed)).toThrow(/widgets\.example\.com/);
  });

  it('compiles every x-kubernetes-validations rule of the six CRDs (none skipped)', () => {
    const skipped = Object.keys(CRD_FILES).flatMap((name) =>
      unsupportedRules(crd(name as keyof typeof CRD_FILES)),
    );
    expect(skipped).toEqual([]);
  });
});

describe('image registry config', () => {
  it('accepts a minimal spec, applies the schema defaults and leaves the input alone', () => {
    const input = deepFreeze(registryConfig({ storage: { azure: {} } }));
    const { object, result } = prepareObject(configSchema, input);
    expect(result).toEqual({ causes: [], unknownFields: [] });
    expect(object).not.toBe(input);
    expect(object.spec).toEqual({
      managementState: 'Managed',
      replicas: 1,
      logLevel: 'Normal',
      operatorLogLevel: 'Normal',
      // default of a nested object, applied because its parent (azure) exists
      storage: { azure: { networkAccess: { type: 'External' } } },
    });
    expect(input.spec).toEqual({ managementState: 'Managed', replicas: 1, storage: { azure: {} } });
  });

  it('applies nested defaults only where the parent object exists', () => {
    const { object } = prepareObject(configSchema, registryConfig({ storage: { s3: { bucket: 'b' } } }));
    expect(object.spec).toMatchObject({ storage: { s3: { bucket: 'b' } } });
    expect(JSON.stringify(object)).not.toContain('networkAccess');
  });

  it('reports a managementState outside its pattern as an invalid value (the schema uses a pattern, not an enum)', () => {
    expect(causesOf(configSchema, registryConfig({ managementState: 'Foo' }))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.managementState',
        message: `Invalid value: "Foo": spec.managementState in body should match '^(Managed|Unmanaged|Force|Removed)$'`,
      },
    ]);
  });

  it('reports an enum violation as NotSupported with the supported values', () => {
    const causes = causesOf(configSchema, registryConfig({ logLevel: 'Foo' }));
    expect(causes[0]).toEqual({
      reason: 'FieldValueNotSupported',
      field: 'spec.logLevel',
      message: 'Unsupported value: "Foo": supported values: "", "Normal", "Debug", "Trace", "TraceAll"',
    });
  });

  it('reports a string replica count as a type error', () => {
    const causes = causesOf(configSchema, registryConfig({ replicas: 'two' }));
    expect(causes[0]).toEqual({
      reason: 'FieldValueTypeInvalid',
      field: 'spec.replicas',
      message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
    });
  });

  it('rejects an int32 field outside the int32 range', () => {
    const causes = causesOf(configSchema, registryConfig({ replicas: 2 ** 31 }));
    expect(fields(causes)).toEqual(['spec.replicas']);
    expect(causes[0]?.message).toContain('must be of type int32');
  });

  it('prunes unknown fields and reports their paths, keeping preserved and root fields', () => {
    const { object, result } = prepareObject(
      configSchema,
      registryConfig({
        bogus: true,
        routes: [{ name: 'r', hostname: 'h', extra: 1 }],
        unsupportedConfigOverrides: { anything: { nested: [1, 2] } },
      }),
    );
    expect(result.unknownFields).toEqual(['spec.bogus', 'spec.routes[0].extra']);
    expect(result.causes).toEqual([]);
    expect(object.spec).not.toHaveProperty('bogus');
    expect(object.spec).toMatchObject({
      routes: [{ name: 'r', hostname: 'h' }],
      unsupportedConfigOverrides: { anything: { nested: [1, 2] } },
    });
    expect(object.metadata).toEqual({ name: 'cluster' });
    expect(object.apiVersion).toBe('imageregistry.operator.openshift.io/v1');
  });

  it('requires the name of a spec.routes entry', () => {
    expect(
      causesOf(configSchema, registryConfig({ routes: [{ hostname: 'registry.example.com' }] })),
    ).toEqual([
      { reason: 'FieldValueRequired', field: 'spec.routes[0].name', message: 'Required value' },
      { reason: 'FieldValueInvalid', field: '', message: expect.stringContaining(NOT_CHECKED) as string },
    ]);
  });

  it('requires spec and spec.replicas', () => {
    const { spec: _spec, ...withoutSpec } = registryConfig({});
    expect(fields(causesOf(configSchema, withoutSpec))).toEqual(['spec', '']);
    const noReplicas = registryConfig({});
    expect(fields(causesOf(configSchema, { ...noReplicas, spec: { managementState: 'Managed' } }))).toEqual([
      'spec.replicas',
      '',
    ]);
  });

  it('turns non-nullable nulls into their default or drops them, and keeps nullable nulls', () => {
    const { object, result } = prepareObject(
      configSchema,
      registryConfig({ logLevel: null, httpSecret: null, observedConfig: null }),
    );
    expect(result.causes).toEqual([]);
    expect(object.spec).toMatchObject({ logLevel: 'Normal', observedConfig: null });
    expect(object.spec).not.toHaveProperty('httpSecret');
  });

  it('validates int-or-string quantities against their pattern', () => {
    const ok = registryConfig({ resources: { limits: { cpu: '500m', memory: 1024 } } });
    expect(causesOf(configSchema, ok)).toEqual([]);
    const bad = registryConfig({ resources: { limits: { cpu: '5 cores', memory: true } } });
    expect(causesOf(configSchema, bad).map((c) => [c.field, c.reason])).toEqual([
      ['spec.resources.limits.cpu', 'FieldValueInvalid'],
      ['spec.resources.limits.memory', 'FieldValueTypeInvalid'],
      ['', 'FieldValueInvalid'],
    ]);
  });

  it('enforces the anyOf/not mutual exclusion of oss encryption (after defaulting method)', () => {
    const oss = (encryption: JsonObject): JsonObject => registryConfig({ storage: { oss: { encryption } } });
    expect(causesOf(configSchema, oss({}))).toEqual([]);
    expect(causesOf(configSchema, oss({ method: 'KMS', kms: { keyID: 'k' } }))).toEqual([]);
    expect(causesOf(configSchema, oss({ method: 'KMS' }))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.storage.oss.encryption',
        message:
          'Invalid value: "object": spec.storage.oss.encryption in body must validate at least one schema (anyOf)',
      },
    ]);
    expect(fields(causesOf(configSchema, oss({ method: 'AES256', kms: { keyID: 'k' } })))).toEqual([
      'spec.storage.oss.encryption',
    ]);
  });

  it('evaluates the azure networkAccess CEL rule', () => {
    const azure = (networkAccess: JsonObject): JsonObject =>
      registryConfig({ storage: { azure: { networkAccess } } });
    expect(causesOf(configSchema, azure({ type: 'Internal', internal: { subnetName: 'sub' } }))).toEqual([]);
    expect(causesOf(configSchema, azure({ type: 'External', internal: { subnetName: 'sub' } }))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.storage.azure.networkAccess',
        message: 'Invalid value: "object": internal is forbidden when type is not Internal',
      },
    ]);
  });

  it('reports duplicate keys of a list-type map', () => {
    const condition = (type: string): JsonObject => ({
      type,
      status: 'True',
      lastTransitionTime: '2024-01-02T03:04:05Z',
    });
    const status = {
      storage: {},
      storageManaged: true,
      conditions: [condition('Available'), condition('Available')],
    };
    expect(causesOf(configSchema, registryConfig({}, { status }))).toEqual([
      {
        reason: 'FieldValueDuplicate',
        field: 'status.conditions[1]',
        message: 'Duplicate value: {"type":"Available"}',
      },
    ]);
  });

  it('checks date-time formats', () => {
    const status = {
      storage: {},
      storageManaged: true,
      conditions: [{ type: 'Available', status: 'True', lastTransitionTime: 'yesterday' }],
    };
    expect(causesOf(configSchema, registryConfig({}, { status }))[0]).toEqual({
      reason: 'FieldValueTypeInvalid',
      field: 'status.conditions[0].lastTransitionTime',
      message:
        'Invalid value: "yesterday": status.conditions[0].lastTransitionTime in body must be of type date-time: "yesterday"',
    });
  });

  it('skips the latestAvailableRevision transition rule on create and enforces it on update', () => {
    const withRevision = (revision: number): JsonObject =>
      registryConfig(
        {},
        { status: { storage: {}, storageManaged: true, latestAvailableRevision: revision } },
      );
    expect(causesOf(configSchema, withRevision(5))).toEqual([]);
    expect(causesOf(configSchema, withRevision(3), withRevision(5))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'status.latestAvailableRevision',
        message: 'Invalid value: "integer": must only increase',
      },
    ]);
    expect(causesOf(configSchema, withRevision(6), withRevision(5))).toEqual([]);
    // no old value at that path: the transition rule does not run
    expect(causesOf(configSchema, withRevision(3), registryConfig({}))).toEqual([]);
  });
});

describe('image pruner', () => {
  const pruner = (spec: JsonObject): JsonObject => ({
    apiVersion: 'imageregistry.operator.openshift.io/v1',
    kind: 'ImagePruner',
    metadata: { name: 'cluster' },
    spec,
  });

  it('accepts a negative keepTagRevisions and any schedule string: the schema does not constrain them', () => {
    const { object, result } = prepareObject(
      prunerSchema,
      pruner({ keepTagRevisions: -1, schedule: 'not a cron' }),
    );
    expect(result.causes).toEqual([]);
    expect(object.spec).toEqual({ keepTagRevisions: -1, schedule: 'not a cron', logLevel: 'Normal' });
  });

  it('rejects a keepTagRevisions of the wrong type', () => {
    expect(causesOf(prunerSchema, pruner({ keepTagRevisions: '3' }))[0]).toMatchObject({
      reason: 'FieldValueTypeInvalid',
      field: 'spec.keepTagRevisions',
    });
  });

  it('validates keepYoungerThanDuration as a duration', () => {
    expect(causesOf(prunerSchema, pruner({ keepYoungerThanDuration: '60m' }))).toEqual([]);
    expect(causesOf(prunerSchema, pruner({ keepYoungerThanDuration: '3 days' }))).toEqual([]);
    expect(causesOf(prunerSchema, pruner({ keepYoungerThanDuration: 'soon' }))[0]).toEqual({
      reason: 'FieldValueTypeInvalid',
      field: 'spec.keepYoungerThanDuration',
      message: 'Invalid value: "soon": spec.keepYoungerThanDuration in body must be of type duration: "soon"',
    });
  });
});

describe('route', () => {
  it('accepts a minimal route and defaults to.weight and wildcardPolicy', () => {
    const { object, result } = prepareObject(routeSchema, route({ to: { name: 'image-registry' } }));
    expect(result.causes).toEqual([]);
    expect(object.spec).toEqual({
      to: { kind: 'Service', name: 'image-registry', weight: 100 },
      wildcardPolicy: 'None',
    });
  });

  it('rejects an invalid host', () => {
    expect(causesOf(routeSchema, route({ host: 'bad_host.example.com' }))[0]).toMatchObject({
      reason: 'FieldValueInvalid',
      field: 'spec.host',
      message: expect.stringContaining('spec.host in body should match') as string,
    });
    expect(causesOf(routeSchema, route({ host: `${'a.'.repeat(127)}ab` }))[0]).toEqual({
      reason: 'FieldValueTooLong',
      field: 'spec.host',
      message: 'Too long: may not be more than 253 bytes',
    });
  });

  it('rejects a tls.termination outside its enum and a missing termination', () => {
    expect(causesOf(routeSchema, route({ tls: { termination: 'bogus' } }))[0]).toEqual({
      reason: 'FieldValueNotSupported',
      field: 'spec.tls.termination',
      message: 'Unsupported value: "bogus": supported values: "edge", "reencrypt", "passthrough"',
    });
    expect(causesOf(routeSchema, route({ tls: {} }))[0]).toEqual({
      reason: 'FieldValueRequired',
      field: 'spec.tls.termination',
      message: 'Required value',
    });
  });

  it('evaluates the spec.tls CEL rules', () => {
    expect(
      causesOf(routeSchema, route({ tls: { termination: 'edge', insecureEdgeTerminationPolicy: 'Allow' } })),
    ).toEqual([]);
    expect(
      causesOf(
        routeSchema,
        route({ tls: { termination: 'passthrough', insecureEdgeTerminationPolicy: 'Allow' } }),
      ),
    ).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.tls',
        message:
          'Invalid value: "object": cannot have both spec.tls.termination: passthrough and spec.tls.insecureEdgeTerminationPolicy: Allow',
      },
    ]);
    const both = { termination: 'edge', certificate: 'PEM', externalCertificate: { name: 'secret' } };
    expect(causesOf(routeSchema, route({ tls: both })).map((c) => c.message)).toEqual([
      'Invalid value: "object": cannot have both spec.tls.certificate and spec.tls.externalCertificate',
    ]);
  });

  it('rejects a path on a passthrough route through the spec anyOf', () => {
    const causes = causesOf(routeSchema, route({ path: '/v2', tls: { termination: 'passthrough' } }));
    expect(causes.map((c) => c.message)).toEqual([
      'Invalid value: "object": spec in body must validate at least one schema (anyOf)',
      'Invalid value: "object": spec in body must validate all the schemas (allOf)',
    ]);
    expect(causesOf(routeSchema, route({ path: '/v2', tls: { termination: 'edge' } }))).toEqual([]);
  });

  it('evaluates header-action rules, including the RE2 [:cntrl:] class', () => {
    const request = (name: string, value: string): JsonObject =>
      route({ httpHeaders: { actions: { request: [{ name, action: { type: 'Set', set: { value } } }] } } });
    expect(causesOf(routeSchema, request('X-Forwarded-Tenant', 'acme'))).toEqual([]);
    expect(causesOf(routeSchema, request('X-Host', '%[req.hdr(host),lower]'))).toEqual([]);
    expect(causesOf(routeSchema, request('Proxy', 'x'))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.httpHeaders.actions.request[0].name',
        message: 'Invalid value: "string": proxy header may not be modified via header actions',
      },
    ]);
    const formatRule = 'Either the header value provided is not in correct format';
    expect(causesOf(routeSchema, request('X-Bad', 'tab\there'))[0]).toMatchObject({
      field: 'spec.httpHeaders.actions.request',
      message: expect.stringContaining(formatRule) as string,
    });
    expect(fields(causesOf(routeSchema, request('X-Res', '%[res.hdr(host)]')))).toEqual([
      'spec.httpHeaders.actions.request',
    ]);
  });

  it('requires set for a Set header action and forbids header actions on passthrough routes', () => {
    const missingSet = route({
      httpHeaders: { actions: { response: [{ name: 'X-A', action: { type: 'Set' } }] } },
    });
    expect(causesOf(routeSchema, missingSet).map((c) => [c.field, c.message])).toContainEqual([
      'spec.httpHeaders.actions.response[0].action',
      'Invalid value: "object": set is required when type is Set, and forbidden otherwise',
    ]);
    const passthrough = route({
      tls: { termination: 'passthrough' },
      httpHeaders: { actions: { request: [{ name: 'X-A', action: { type: 'Delete' } }] } },
    });
    expect(causesOf(routeSchema, passthrough)).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec',
        message:
          'Invalid value: "object": header actions are not permitted when tls termination is passthrough.',
      },
    ]);
  });

  it('checks alternateBackends: list-map keys, maxItems and item defaults', () => {
    const backend = (name: string): JsonObject => ({ name });
    const { object, result } = prepareObject(
      routeSchema,
      route({ alternateBackends: [backend('a'), backend('b')] }),
    );
    expect(result.causes).toEqual([]);
    expect((object.spec as JsonObject).alternateBackends).toEqual([
      { name: 'a', kind: 'Service', weight: 100 },
      { name: 'b', kind: 'Service', weight: 100 },
    ]);
    expect(causesOf(routeSchema, route({ alternateBackends: [backend('a'), backend('a')] }))).toEqual([
      {
        reason: 'FieldValueDuplicate',
        field: 'spec.alternateBackends[1]',
        message: 'Duplicate value: {"name":"a","kind":"Service"}',
      },
    ]);
    const four = ['a', 'b', 'c', 'd'].map(backend);
    expect(causesOf(routeSchema, route({ alternateBackends: four }))[0]).toEqual({
      reason: 'FieldValueTooMany',
      field: 'spec.alternateBackends',
      message: 'Too many: 4: must have at most 3 items',
    });
    expect(causesOf(routeSchema, route({ alternateBackends: [{ name: 'a', weight: 300 }] }))[0]).toEqual({
      reason: 'FieldValueInvalid',
      field: 'spec.alternateBackends[0].weight',
      message:
        'Invalid value: 300: spec.alternateBackends[0].weight in body should be less than or equal to 256',
    });
  });

  it('validates port.targetPort as int-or-string that is neither 0 nor empty', () => {
    expect(causesOf(routeSchema, route({ port: { targetPort: 5000 } }))).toEqual([]);
    expect(causesOf(routeSchema, route({ port: { targetPort: '5000-tcp' } }))).toEqual([]);
    expect(causesOf(routeSchema, route({ port: { targetPort: 0 } })).map((c) => c.message)).toEqual([
      'Invalid value: "integer": spec.port.targetPort in body must not validate the schema (not)',
      'Invalid value: "integer": spec.port.targetPort in body must validate all the schemas (allOf)',
    ]);
    expect(causesOf(routeSchema, route({ port: { targetPort: true } }))[0]).toMatchObject({
      reason: 'FieldValueTypeInvalid',
      field: 'spec.port.targetPort',
    });
  });

  it('does not run CEL rules when the object has blocking errors', () => {
    const causes = causesOf(
      routeSchema,
      route({
        to: { name: 'svc', weight: 'heavy' },
        tls: { termination: 'passthrough', insecureEdgeTerminationPolicy: 'Allow' },
      }),
    );
    expect(causes.map((c) => c.reason)).toEqual(['FieldValueTypeInvalid', 'FieldValueInvalid']);
    expect(causes[1]).toEqual({
      reason: 'FieldValueInvalid',
      field: '',
      message: `Invalid value: "null": ${NOT_CHECKED}; correct the existing errors to complete validation`,
    });
  });
});

describe('CEL rules of the config and operator CRDs', () => {
  it('enforces the ingress domain immutability transition rule on update only', () => {
    const ingress = (domain?: string): JsonObject => ({
      apiVersion: 'config.openshift.io/v1',
      kind: 'Ingress',
      metadata: { name: 'cluster' },
      spec: domain === undefined ? {} : { domain },
    });
    expect(causesOf(ingressSchema, ingress('apps.example.com'))).toEqual([]);
    expect(causesOf(ingressSchema, ingress('apps.example.com'), ingress('apps.example.com'))).toEqual([]);
    expect(causesOf(ingressSchema, ingress('apps.example.com'), ingress())).toEqual([]);
    expect(causesOf(ingressSchema, ingress('apps.other.com'), ingress('apps.example.com'))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.domain',
        message: 'Invalid value: "string": domain is immutable once set',
      },
    ]);
  });

  it('evaluates registrySources rules (object rule and per-item matches)', () => {
    const image = (registrySources: JsonObject): JsonObject => ({
      apiVersion: 'config.openshift.io/v1',
      kind: 'Image',
      metadata: { name: 'cluster' },
      spec: { registrySources },
    });
    expect(
      causesOf(imageSchema, image({ allowedRegistries: ['quay.io', '*.example.com', 'reg:5000/ns'] })),
    ).toEqual([]);
    expect(
      fields(causesOf(imageSchema, image({ allowedRegistries: ['quay.io'], blockedRegistries: ['x.io'] }))),
    ).toEqual(['spec.registrySources']);
    expect(causesOf(imageSchema, image({ insecureRegistries: ['ok.io', 'not a registry'] }))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'spec.registrySources.insecureRegistries[1]',
        message:
          'Invalid value: "string": each registry must be a valid hostname[:port][/path] or wildcard *.hostname format without tags or digests',
      },
    ]);
  });

  it('evaluates format.dns1123Subdomain(), split() and the root rule reading metadata.name', () => {
    expect(causesOf(controllerSchema, controller({ domain: 'apps.example.com' }))).toEqual([]);
    expect(
      causesOf(controllerSchema, controller({ domain: 'Apps_Example.com' })).map((c) => c.message),
    ).toEqual([
      "Invalid value: \"string\": domain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    ]);
    // a 64-character label is a valid DNS-1123 subdomain; only the split() rule catches it
    const longLabel = `${'a'.repeat(64)}.example.com`;
    expect(causesOf(controllerSchema, controller({ domain: longLabel })).map((c) => c.message)).toEqual([
      'Invalid value: "string": each DNS label must not exceed 63 characters',
    ]);
    const domain = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(50)}.com`;
    expect(domain).toHaveLength(237);
    expect(causesOf(controllerSchema, controller({ domain }, 'x'))).toEqual([]);
    expect(causesOf(controllerSchema, controller({ domain }, 'a-rather-long-name'))).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: '',
        message:
          "Invalid value: \"object\": The combined 'router-' + metadata.name + '.' + .spec.domain cannot exceed 253 characters",
      },
    ]);
  });

  it('evaluates numeric and duration() rules of tuningOptions', () => {
    const tuning = (tuningOptions: JsonObject): FieldCause[] =>
      causesOf(controllerSchema, controller({ tuningOptions }));
    expect(tuning({ maxConnections: -1, httpKeepAliveTimeout: '300ms' })).toEqual([]);
    expect(tuning({ maxConnections: 2000 })).toEqual([]);
    expect(fields(tuning({ maxConnections: 5 }))).toEqual(['spec.tuningOptions.maxConnections']);
    expect(tuning({ httpKeepAliveTimeout: '16m' }).map((c) => c.message)).toEqual([
      'Invalid value: "string": httpKeepAliveTimeout must be less than or equal to 15 minutes',
    ]);
  });

  it('evaluates isIP() and reports runtime errors of a rule as invalid values', () => {
    const loadBalancer = (providerParameters: JsonObject): JsonObject =>
      controller({
        endpointPublishingStrategy: {
          type: 'LoadBalancerService',
          loadBalancer: { scope: 'External', providerParameters },
        },
      });
    const openstack = (floatingIP: string): JsonObject =>
      loadBalancer({ type: 'OpenStack', openstack: { floatingIP } });
    expect(causesOf(controllerSchema, openstack('192.0.2.10'))).toEqual([]);
    expect(causesOf(controllerSchema, openstack('2001:db8::1'))).toEqual([]);
    expect(causesOf(controllerSchema, openstack('192.0.2.300')).map((c) => [c.field, c.message])).toEqual([
      [
        'spec.endpointPublishingStrategy.loadBalancer.providerParameters.openstack.floatingIP',
        'Invalid value: "string": floatingIP must be a valid IPv4 or IPv6 address',
      ],
    ]);
    // 26 characters without a dash: split("-", 2)[1] is out of bounds at runtime
    const eip = loadBalancer({
      type: 'AWS',
      aws: { type: 'NLB', networkLoadBalancer: { eipAllocations: ['x'.repeat(26)] } },
    });
    const messages = causesOf(controllerSchema, eip).map((c) => c.message);
    expect(messages).toEqual([
      'Invalid value: "string": eipAllocations should start with \'eipalloc-\'',
      expect.stringMatching(
        /index out of bounds.* evaluating rule: eipAllocations must be 'eipalloc-'/,
      ) as string,
    ]);
  });
});

const SYNTHETIC_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: { kind: Widget, plural: widgets, shortNames: [wd], categories: [all] }
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: false
  - name: v1
    served: true
    storage: true
    subresources: { status: {}, scale: { specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas } }
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-validations:
        - rule: self.metadata.name.startsWith('w-')
          message: name must start with w-
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.bogusFunction()
            - rule: "!has(self.owner) || self.owner != 'root'"
              reason: FieldValueForbidden
              fieldPath: .owner
              messageExpression: "'owner ' + self.owner + ' is reserved'"
            - rule: "!has(self.size) || self.size != 13"
            - rule: "!has(self.size) || !has(oldSelf.size) || self.size >= oldSelf.size"
              message: size may not shrink
            - rule: oldSelf.orValue(self).?owner.orValue('') == self.?owner.orValue('')
              optionalOldSelf: true
              message: owner is immutable
            - rule: oldSelf.hasValue() || self.?size.orValue(0) < 100
              optionalOldSelf: true
              message: size must start below 100
            - rule: "!oldSelf.hasValue() || !has(oldSelf.value().owner) || oldSelf.value().owner == self.owner"
              optionalOldSelf: true
            properties:
              owner: { type: string }
              size: { type: integer, format: int64, minimum: 0, exclusiveMinimum: true }
              ratio: { type: number, maximum: 1 }
              tags:
                type: array
                minItems: 1
                x-kubernetes-list-type: set
                items: { type: string, minLength: 2 }
              labels:
                type: object
                maxProperties: 2
                additionalProperties:
                  type: object
                  properties:
                    value: { type: string }
                    weight: { type: integer, default: 1 }
              when: { type: string, format: date-time }
              blob: { type: string, format: byte }
              nickname: { type: string, nullable: true, maxLength: 3 }
              choice:
                type: object
                properties:
                  a: { type: string }
                  b: { type: string }
                oneOf:
                - required: [a]
                - required: [b]
              ips:
                type: array
                items:
                  type: string
                  x-kubernetes-validations:
                  - rule: isIP(self) && ip(self).family() == 4 && cidr('10.0.0.0/8').containsIP(self)
                    message: must be an IPv4 address in 10.0.0.0/8
              url:
                type: string
                x-kubernetes-validations:
                - rule: isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname().endsWith('.example.com')
              quantity:
                type: string
                x-kubernetes-validations:
                - rule: quantity(self).isLessThan(quantity('1Gi'))
              words:
                type: string
                x-kubernetes-validations:
                - rule: self.replace('-', ' ').split(' ').all(w, w.matches('^[[:lower:]]+$'))
                  message: lower-case words only
              entries:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [key]
                items:
                  type: object
                  required: [key]
                  properties:
                    key: { type: string }
                    value: { type: integer }
                  x-kubernetes-validations:
                  - rule: self.value >= oldSelf.value
                    message: entry values may not decrease
`;

describe('generic schema features (synthetic CRD)', () => {
  const widgets = loadCrd(SYNTHETIC_CRD);
  const widgetSchema = widgets.versions.find((v) => v.storage)?.schema ?? {};
  const widget = (spec: JsonObject, name = 'w-1'): JsonObject => ({
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name, namespace: 'default' },
    spec,
  });
  const messages = (spec: JsonObject, old?: JsonObject): string[] =>
    causesOf(widgetSchema, widget(spec), old).map((c) => `${c.field}: ${c.message}`);

  it('reads names, versions and subresources', () => {
    expect(widgets).toMatchObject({ shortNames: ['wd'], categories: ['all'], scope: 'Namespaced' });
    expect(widgets.versions.map((v) => [v.name, v.storage, v.subresources])).toEqual([
      ['v1beta1', false, { status: false, scale: false }],
      ['v1', true, { status: true, scale: true }],
    ]);
  });

  it('lists exactly the rules it cannot compile, and skips them', () => {
    expect(unsupportedRules(widgets)).toEqual([
      expect.stringMatching(/^v1 spec: self\.bogusFunction\(\) \(.*bogusFunction/) as string,
      // cel-js rejects has() over a call result, which cel-go accepts
      expect.stringMatching(
        /^v1 spec: !oldSelf\.hasValue\(\) \|\| !has\(oldSelf\.value\(\)\.owner\).*\(has\(\)/,
      ) as string,
    ]);
    expect(messages({ size: 1 })).toEqual([]);
  });

  it('uses messageExpression, fieldPath and reason; falls back to the rule text without a message', () => {
    expect(messages({ owner: 'root', size: 13 })).toEqual([
      'spec.owner: Forbidden: owner root is reserved',
      'spec: Invalid value: "object": failed rule: !has(self.size) || self.size != 13',
    ]);
  });

  it('evaluates root rules with metadata.name', () => {
    expect(causesOf(widgetSchema, widget({}, 'gadget'))).toEqual([
      { reason: 'FieldValueInvalid', field: '', message: 'Invalid value: "object": name must start with w-' },
    ]);
  });

  it('runs oldSelf rules only on update, and optionalOldSelf rules on create too', () => {
    expect(messages({ size: 5, owner: 'a' })).toEqual([]);
    expect(messages({ size: 150 })).toEqual(['spec: Invalid value: "object": size must start below 100']);
    expect(messages({ size: 150 }, widget({ size: 120 }))).toEqual([]);
    expect(messages({ size: 4, owner: 'b' }, widget({ size: 5, owner: 'a' }))).toEqual([
      'spec: Invalid value: "object": size may not shrink',
      'spec: Invalid value: "object": owner is immutable',
    ]);
  });

  it('correlates list-type map items by key for transition rules', () => {
    const old = widget({ entries: [{ key: 'a', value: 5 }] });
    expect(
      messages(
        {
          entries: [
            { key: 'b', value: 1 },
            { key: 'a', value: 6 },
          ],
        },
        old,
      ),
    ).toEqual([]);
    expect(
      messages(
        {
          entries: [
            { key: 'b', value: 1 },
            { key: 'a', value: 4 },
          ],
        },
        old,
      ),
    ).toEqual(['spec.entries[1]: Invalid value: "object": entry values may not decrease']);
  });

  it('validates bounds, exclusive bounds, sets, min/max items and properties', () => {
    expect(messages({ size: 0, ratio: 1.5, tags: [] })).toEqual([
      'spec.size: Invalid value: 0: spec.size in body should be greater than 0',
      'spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than or equal to 1',
      'spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items',
    ]);
    expect(messages({ tags: ['ab', 'cd', 'ab', 'x'] })).toEqual([
      'spec.tags[3]: Invalid value: "x": spec.tags[3] in body should be at least 2 chars long',
      'spec.tags[2]: Duplicate value: "ab"',
    ]);
    expect(messages({ labels: { a: {}, b: {}, c: {} } })).toEqual([
      'spec.labels: Too many: 3: must have at most 2 items',
      `: Invalid value: "null": ${NOT_CHECKED}; correct the existing errors to complete validation`,
    ]);
  });

  it('defaults inside additionalProperties values and validates them', () => {
    const { object, result } = prepareObject(
      widgetSchema,
      widget({ labels: { a: { value: 'x' }, b: { bogus: 1 } } }),
    );
    expect(result.unknownFields).toEqual(['spec.labels.b.bogus']);
    expect((object.spec as JsonObject).labels).toEqual({ a: { value: 'x', weight: 1 }, b: { weight: 1 } });
  });

  it('checks date-time and byte formats and nullable fields', () => {
    expect(messages({ when: '2024-02-29T10:00:00.5+01:00', blob: 'aGVsbG8=', nickname: null })).toEqual([]);
    expect(messages({ when: '2023-02-29T10:00:00Z', blob: 'hello!', nickname: 'long' })).toEqual([
      'spec.when: Invalid value: "2023-02-29T10:00:00Z": spec.when in body must be of type date-time: "2023-02-29T10:00:00Z"',
      'spec.blob: Invalid value: "hello!": spec.blob in body must be of type byte: "hello!"',
      'spec.nickname: Too long: may not be more than 3 bytes',
      `: Invalid value: "null": ${NOT_CHECKED}; correct the existing errors to complete validation`,
    ]);
  });

  it('requires exactly one oneOf alternative', () => {
    expect(messages({ choice: { a: 'x' } })).toEqual([]);
    expect(messages({ choice: {} })).toEqual([
      'spec.choice: Invalid value: "object": spec.choice in body must validate one and only one schema (oneOf)',
    ]);
    expect(messages({ choice: { a: 'x', b: 'y' } })).toEqual([
      'spec.choice: Invalid value: "object": spec.choice in body must validate one and only one schema (oneOf). Found 2 valid alternatives',
    ]);
  });

  it('provides the ip, cidr, url, quantity and string extension functions', () => {
    expect(
      messages({ ips: ['10.1.2.3'], url: 'https://api.example.com/x', quantity: '512Mi', words: 'ab-cd' }),
    ).toEqual([]);
    expect(messages({ ips: ['192.168.0.1', '::1', '10.0.0.01'] })).toEqual([
      'spec.ips[0]: Invalid value: "string": must be an IPv4 address in 10.0.0.0/8',
      'spec.ips[1]: Invalid value: "string": must be an IPv4 address in 10.0.0.0/8',
      'spec.ips[2]: Invalid value: "string": must be an IPv4 address in 10.0.0.0/8',
    ]);
    expect(fields(causesOf(widgetSchema, widget({ url: 'http://api.example.com' })))).toEqual(['spec.url']);
    expect(fields(causesOf(widgetSchema, widget({ quantity: '2Gi' })))).toEqual(['spec.quantity']);
    expect(messages({ words: 'ab-Cd' })).toEqual([
      'spec.words: Invalid value: "string": lower-case words only',
    ]);
  });
});
