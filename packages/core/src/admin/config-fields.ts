// The registry operator's spec fields that `config set` changes, typed from the CRD
// (configs.imageregistry.operator.openshift.io, openshift/api imageregistry/v1), and the pure parsing and
// checking of `path=value` settings. Checks run before anything is sent so that a mistake names the field
// and its allowed values; the API server's own validation stays the last word on the nested Kubernetes types.
import { RegistryPushError } from '../errors.js';

/** The kind of value a settable field holds, after the CRD schema. */
type FieldKind =
  | { type: 'boolean' }
  | { type: 'integer'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'string' }
  | { type: 'pattern'; pattern: RegExp; min?: number; max?: number; rule: string }
  | { type: 'duration' }
  | { type: 'json'; check: (value: unknown, field: string) => void };

const INT32_MAX = 2_147_483_647;

/** A Go duration as the registry parses it: `0`, or numbers with units (`1m30s`, `500ms`). */
const DURATION = /^(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/** A Kubernetes resource quantity (the CRD's pattern). */
const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

function invalid(field: string, message: string, hint: string): never {
  throw new RegistryPushError('OPTION_INVALID', message, { hint, details: { field } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function onlyKeys(value: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  const unknown = Object.keys(value).find((key) => !allowed.includes(key));
  if (unknown !== undefined) {
    invalid(
      field,
      `${field} has no field "${unknown}"; it takes ${allowed.join(', ')}.`,
      `Remove "${unknown}" from ${field}.`,
    );
  }
}

function checkOneOf(value: unknown, field: string, values: readonly string[]): void {
  if (value !== undefined && (typeof value !== 'string' || !values.includes(value))) {
    invalid(
      field,
      `${field} must be one of ${values.join(', ')}, not ${describe(value)}.`,
      `Use one of ${values.join(', ')}.`,
    );
  }
}

function checkWhole(value: unknown, field: string, min: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)) {
    invalid(
      field,
      `${field} must be a whole number of ${min} or more, not ${describe(value)}.`,
      `Give ${field} as a number.`,
    );
  }
}

function checkString(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'string') {
    invalid(field, `${field} must be a string, not ${describe(value)}.`, `Quote ${field} in the JSON.`);
  }
}

function checkStringMap(value: unknown, field: string): void {
  if (!isObject(value)) {
    invalid(
      field,
      `${field} must be a JSON object, not ${describe(value)}.`,
      `Example: ${field}='{"key":"value"}'.`,
    );
  }
  for (const [key, item] of Object.entries(value)) checkString(item, `${field}.${key}`);
}

function checkList(value: unknown, field: string, example: string): Record<string, unknown>[] {
  if (!Array.isArray(value) || !value.every(isObject)) {
    invalid(
      field,
      `${field} must be a JSON array of objects, not ${describe(value)}.`,
      `Example: ${example}.`,
    );
  }
  return value;
}

function checkTolerations(value: unknown, field: string): void {
  const example = `${field}='[{"key":"infra","operator":"Exists","effect":"NoSchedule"}]'`;
  checkList(value, field, example).forEach((item, index) => {
    const at = `${field}[${index}]`;
    onlyKeys(item, at, ['key', 'operator', 'value', 'effect', 'tolerationSeconds']);
    checkString(item['key'], `${at}.key`);
    checkString(item['value'], `${at}.value`);
    // Lt and Gt need a feature gate (TaintTolerationComparisonOperators) that clusters do not have by default.
    checkOneOf(item['operator'], `${at}.operator`, ['Exists', 'Equal']);
    checkOneOf(item['effect'], `${at}.effect`, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
    checkWhole(item['tolerationSeconds'], `${at}.tolerationSeconds`, 0);
  });
}

function checkSpread(value: unknown, field: string): void {
  const example = `${field}='[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway"}]'`;
  checkList(value, field, example).forEach((item, index) => {
    const at = `${field}[${index}]`;
    for (const required of ['maxSkew', 'topologyKey', 'whenUnsatisfiable']) {
      if (item[required] === undefined) {
        invalid(
          `${at}.${required}`,
          `${at} needs ${required} (the CRD requires maxSkew, topologyKey and whenUnsatisfiable).`,
          `Example: ${example}.`,
        );
      }
    }
    checkWhole(item['maxSkew'], `${at}.maxSkew`, 1);
    checkString(item['topologyKey'], `${at}.topologyKey`);
    checkOneOf(item['whenUnsatisfiable'], `${at}.whenUnsatisfiable`, ['DoNotSchedule', 'ScheduleAnyway']);
  });
}

function checkResources(value: unknown, field: string): void {
  if (!isObject(value)) {
    invalid(
      field,
      `${field} must be a JSON object, not ${describe(value)}.`,
      `Example: ${field}='{"requests":{"cpu":"100m","memory":"256Mi"}}'.`,
    );
  }
  onlyKeys(value, field, ['limits', 'requests', 'claims']);
  for (const part of ['limits', 'requests']) {
    const amounts = value[part];
    if (amounts === undefined) continue;
    if (!isObject(amounts))
      invalid(
        `${field}.${part}`,
        `${field}.${part} must be a JSON object of quantities.`,
        'Example: {"cpu":"100m"}.',
      );
    for (const [name, amount] of Object.entries(amounts)) {
      const ok =
        (typeof amount === 'number' && Number.isSafeInteger(amount)) ||
        (typeof amount === 'string' && QUANTITY.test(amount));
      if (!ok) {
        invalid(
          `${field}.${part}.${name}`,
          `${field}.${part}.${name} must be a quantity such as "500m", "2" or "1Gi", not ${describe(amount)}.`,
          'Give a Kubernetes quantity.',
        );
      }
    }
  }
}

function checkAffinity(value: unknown, field: string): void {
  if (!isObject(value)) {
    invalid(
      field,
      `${field} must be a JSON object, not ${describe(value)}.`,
      `Give ${field} as a Kubernetes Affinity object.`,
    );
  }
  onlyKeys(value, field, ['nodeAffinity', 'podAffinity', 'podAntiAffinity']);
  for (const [key, part] of Object.entries(value)) {
    if (!isObject(part))
      invalid(
        `${field}.${key}`,
        `${field}.${key} must be a JSON object, not ${describe(part)}.`,
        `Give ${field}.${key} as a Kubernetes ${key} object.`,
      );
  }
}

/** The storage backends of `spec.storage`, as the CRD names them. */
export const STORAGE_BACKENDS = ['emptyDir', 'pvc', 's3', 'gcs', 'azure', 'swift', 'ibmcos', 'oss'] as const;

/** The Azure environments the registry operator knows (its `cloudName`; the CRD takes any string). */
export const AZURE_CLOUD_NAMES = [
  'AzurePublicCloud',
  'AzureUSGovernmentCloud',
  'AzureChinaCloud',
  'AzureGermanCloud',
  'AzureStackCloud',
] as const;

const DNS_SUBDOMAIN = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LOWER_DASHED = /^[0-9a-z]+(-[0-9a-z]+)*$/;

function checkEmptyDir(value: unknown, field: string): void {
  if (!isObject(value) || Object.keys(value).length > 0) {
    invalid(field, `${field} takes no fields: give {} , not ${describe(value)}.`, `Set ${field}='{}'.`);
  }
}

function checkCloudFront(value: unknown, field: string): void {
  const example = `${field}='{"baseURL":"https://d111.cloudfront.net","keypairID":"K2JCJMDEHXQW5F","privateKey":{"name":"cloudfront-key","key":"private.pem"},"duration":"20m"}'`;
  if (!isObject(value)) {
    invalid(field, `${field} must be a JSON object, not ${describe(value)}.`, `Example: ${example}.`);
  }
  onlyKeys(value, field, ['baseURL', 'keypairID', 'privateKey', 'duration']);
  for (const required of ['baseURL', 'keypairID', 'privateKey']) {
    if (value[required] === undefined) {
      invalid(
        `${field}.${required}`,
        `${field} needs ${required} (the CRD requires baseURL, keypairID and privateKey).`,
        `Example: ${example}.`,
      );
    }
  }
  checkString(value['baseURL'], `${field}.baseURL`);
  checkString(value['keypairID'], `${field}.keypairID`);
  const key = value['privateKey'];
  if (!isObject(key) || typeof key['key'] !== 'string') {
    invalid(
      `${field}.privateKey`,
      `${field}.privateKey must be {"name":SECRET,"key":KEY} (a secret in openshift-image-registry; key is required), not ${describe(key)}.`,
      `Example: ${example}.`,
    );
  }
  onlyKeys(key, `${field}.privateKey`, ['name', 'key', 'optional']);
  checkString(key['name'], `${field}.privateKey.name`);
  const duration = value['duration'];
  if (duration !== undefined && (typeof duration !== 'string' || !DURATION.test(duration))) {
    invalid(
      `${field}.duration`,
      `${field}.duration must be a duration such as 20m or 1h, not ${describe(duration)}.`,
      'Give a number with a unit of ns, us, ms, s, m or h.',
    );
  }
}

function checkNetworkAccess(value: unknown, field: string): void {
  const example = `${field}='{"type":"Internal","internal":{"vnetName":"vnet","subnetName":"subnet"}}'`;
  if (!isObject(value)) {
    invalid(field, `${field} must be a JSON object, not ${describe(value)}.`, `Example: ${example}.`);
  }
  onlyKeys(value, field, ['type', 'internal']);
  checkOneOf(value['type'], `${field}.type`, ['Internal', 'External']);
  const internal = value['internal'];
  if (internal === undefined) return;
  if (value['type'] !== 'Internal') {
    invalid(
      `${field}.internal`,
      `${field}.internal is forbidden when type is not Internal (the CRD's rule).`,
      `Add "type":"Internal", or leave internal out.`,
    );
  }
  if (!isObject(internal)) {
    invalid(`${field}.internal`, `${field}.internal must be a JSON object.`, `Example: ${example}.`);
  }
  onlyKeys(internal, `${field}.internal`, [
    'networkResourceGroupName',
    'vnetName',
    'subnetName',
    'privateEndpointName',
  ]);
  for (const [key, item] of Object.entries(internal)) checkString(item, `${field}.internal.${key}`);
}

/** The fields of each backend's stanza with their CRD types, by dotted path under `storage.<backend>`. */
const STORAGE_FIELDS: Readonly<Record<(typeof STORAGE_BACKENDS)[number], Record<string, FieldKind>>> = {
  emptyDir: {},
  pvc: {
    claim: {
      type: 'pattern',
      pattern: DNS_SUBDOMAIN,
      max: 253,
      rule: 'a claim name: lower-case letters, digits, "-" and "."',
    },
  },
  s3: {
    bucket: { type: 'string' },
    region: { type: 'string' },
    regionEndpoint: { type: 'string' },
    chunkSizeMiB: { type: 'integer', min: 5, max: 5120 },
    encrypt: { type: 'boolean' },
    keyID: { type: 'string' },
    virtualHostedStyle: { type: 'boolean' },
    'trustedCA.name': {
      type: 'pattern',
      pattern: DNS_SUBDOMAIN,
      max: 253,
      rule: 'a config map name in openshift-config (empty: the default bundle)',
    },
    cloudFront: { type: 'json', check: checkCloudFront },
  },
  gcs: {
    bucket: { type: 'string' },
    region: { type: 'string' },
    projectID: { type: 'string' },
    keyID: { type: 'string' },
  },
  azure: {
    accountName: { type: 'string' },
    container: {
      type: 'pattern',
      pattern: LOWER_DASHED,
      min: 3,
      max: 63,
      rule: '3 to 63 lower-case letters and digits, single dashes between them',
    },
    cloudName: { type: 'enum', values: AZURE_CLOUD_NAMES },
    networkAccess: { type: 'json', check: checkNetworkAccess },
  },
  swift: {
    authURL: { type: 'string' },
    authVersion: { type: 'string' },
    container: { type: 'string' },
    domain: { type: 'string' },
    domainID: { type: 'string' },
    tenant: { type: 'string' },
    tenantID: { type: 'string' },
    regionName: { type: 'string' },
  },
  ibmcos: {
    bucket: { type: 'string' },
    location: { type: 'string' },
    resourceGroupName: { type: 'string' },
    resourceKeyCRN: {
      type: 'pattern',
      pattern: /^crn:.+:.+:.+:cloud-object-storage:.+:.+:.+:resource-key:.+$/,
      rule: 'a resource key CRN, crn:…:cloud-object-storage:…:resource-key:…',
    },
    serviceInstanceCRN: {
      type: 'pattern',
      pattern: /^crn:.+:.+:.+:cloud-object-storage:.+:.+:.+::$/,
      rule: 'a service instance CRN, crn:…:cloud-object-storage:…::',
    },
  },
  oss: {
    bucket: {
      type: 'pattern',
      pattern: LOWER_DASHED,
      min: 3,
      max: 63,
      rule: '3 to 63 lower-case letters and digits, single dashes between them',
    },
    region: { type: 'string' },
    endpointAccessibility: { type: 'enum', values: ['Internal', 'Public'] },
    'encryption.method': { type: 'enum', values: ['KMS', 'AES256'] },
    'encryption.kms.keyID': {
      type: 'pattern',
      pattern: /^.+$/,
      rule: 'a KMS key id (not empty)',
    },
  },
};

/** `storage.<backend>` (a whole stanza: `{}` or null) and `storage.<backend>.<field>` paths. */
function storagePaths(): Record<string, FieldKind> {
  const paths: Record<string, FieldKind> = {
    'storage.managementState': { type: 'enum', values: ['Managed', 'Unmanaged'] },
  };
  for (const backend of STORAGE_BACKENDS) {
    const fields = STORAGE_FIELDS[backend];
    paths[`storage.${backend}`] = {
      type: 'json',
      check: (value, field) =>
        backend === 'emptyDir' ? checkEmptyDir(value, field) : checkStanza(backend, value, field),
    };
    for (const [name, kind] of Object.entries(fields)) paths[`storage.${backend}.${name}`] = kind;
  }
  return paths;
}

/** A whole stanza given as JSON: every leaf checked as if it had been set by its own path. */
function checkStanza(backend: (typeof STORAGE_BACKENDS)[number], value: unknown, field: string): void {
  if (!isObject(value)) {
    invalid(field, `${field} must be a JSON object, not ${describe(value)}.`, `Example: ${field}='{}'.`);
  }
  const fields = STORAGE_FIELDS[backend];
  const walk = (object: Record<string, unknown>, prefix: string): void => {
    for (const [key, item] of Object.entries(object)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const kind = fields[path];
      if (kind !== undefined) {
        checkValue(`${field}.${path}`, kind, item);
      } else if (isObject(item) && Object.keys(fields).some((name) => name.startsWith(`${path}.`))) {
        walk(item, path);
      } else {
        const names = [...new Set(Object.keys(fields).map((name) => name.split('.')[0] ?? name))];
        invalid(
          `${field}.${path}`,
          `${field} has no field "${path}"; it takes ${names.join(', ')}.`,
          `Remove "${path}".`,
        );
      }
    }
  };
  walk(value, '');
}

/**
 * A storage stanza as `enable --storage` builds it, checked field by field against the CRD's rules (the
 * same checks as `config set storage.<backend>.<field>`): `OPTION_INVALID` naming the field and the rule.
 */
export function checkStorageStanza(backend: (typeof STORAGE_BACKENDS)[number], stanza: object): void {
  checkStanza(backend, stanza, `storage.${backend}`);
}

/** A JSON value (from a whole stanza) against a field's kind. */
function checkValue(path: string, kind: FieldKind, value: unknown): void {
  switch (kind.type) {
    case 'boolean':
      if (typeof value !== 'boolean')
        invalid(path, `${path} must be true or false, not ${describe(value)}.`, 'Use a JSON boolean.');
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < kind.min || value > kind.max) {
        invalid(
          path,
          `${path} must be a whole number from ${kind.min} to ${kind.max}, not ${describe(value)}.`,
          'Use a JSON number.',
        );
      }
      return;
    case 'json':
      kind.check(value, path);
      return;
    case 'enum':
    case 'string':
    case 'pattern':
    case 'duration':
      if (typeof value !== 'string')
        invalid(path, `${path} must be a string, not ${describe(value)}.`, 'Quote it in the JSON.');
      parseValue(path, kind, value);
  }
}

const LOG_LEVELS = ['Normal', 'Debug', 'Trace', 'TraceAll'] as const;

/** The settable fields by path, with their CRD types. */
export const CONFIG_FIELDS: Readonly<Record<string, FieldKind>> = {
  managementState: { type: 'enum', values: ['Managed', 'Unmanaged', 'Force', 'Removed'] },
  readOnly: { type: 'boolean' },
  replicas: { type: 'integer', min: 0, max: INT32_MAX },
  logLevel: { type: 'enum', values: LOG_LEVELS },
  rolloutStrategy: { type: 'enum', values: ['RollingUpdate', 'Recreate'] },
  defaultRoute: { type: 'boolean' },
  disableRedirect: { type: 'boolean' },
  'proxy.http': { type: 'string' },
  'proxy.https': { type: 'string' },
  'proxy.noProxy': { type: 'string' },
  'requests.read.maxRunning': { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
  'requests.read.maxInQueue': { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
  'requests.read.maxWaitInQueue': { type: 'duration' },
  'requests.write.maxRunning': { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
  'requests.write.maxInQueue': { type: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
  'requests.write.maxWaitInQueue': { type: 'duration' },
  nodeSelector: { type: 'json', check: checkStringMap },
  tolerations: { type: 'json', check: checkTolerations },
  affinity: { type: 'json', check: checkAffinity },
  topologySpreadConstraints: { type: 'json', check: checkSpread },
  resources: { type: 'json', check: checkResources },
  ...storagePaths(),
};

/**
 * The top-level spec keys `config` manages: what is recorded before a change and restored by undo
 * (storage included). Routes and httpSecret are left alone.
 */
export const MANAGED_KEYS: readonly string[] = [
  ...new Set(Object.keys(CONFIG_FIELDS).map((path) => path.split('.')[0] ?? path)),
];

/** Fields the CRD requires (or the operator always writes), so they can be changed but not removed. */
const REQUIRED: readonly string[] = ['replicas', 'managementState'];

/** One parsed `path=value` setting; `value` null removes the field. */
export interface ConfigSetting {
  path: string;
  value: unknown;
}

function parseJson(path: string, check: (value: unknown, field: string) => void, text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
    return invalid(
      path,
      `${path} takes JSON, and "${shown}" is not JSON.`,
      `Quote the value for the shell: ${path}='<JSON>'.`,
    );
  }
  check(value, path);
  return value;
}

/** A string with the CRD's pattern and length limits. */
function parsePattern(path: string, kind: FieldKind & { type: 'pattern' }, text: string): string {
  const length = [...text].length;
  if (kind.pattern.test(text) && length >= (kind.min ?? 0) && length <= (kind.max ?? Infinity)) return text;
  return invalid(
    path,
    `${path} must be ${kind.rule}, not "${text.slice(0, 80)}".`,
    `Set ${path} to ${kind.rule}.`,
  );
}

function parseInteger(path: string, kind: FieldKind & { type: 'integer' }, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < kind.min || value > kind.max) {
    return invalid(
      path,
      `${path} must be a whole number from ${kind.min} to ${kind.max}, not "${text}".`,
      `Set ${path}=<number>.`,
    );
  }
  return value;
}

function parseValue(path: string, kind: FieldKind, text: string): unknown {
  switch (kind.type) {
    case 'boolean':
      if (text === 'true' || text === 'false') return text === 'true';
      return invalid(
        path,
        `${path} must be true or false, not "${text}".`,
        `Set ${path}=true or ${path}=false.`,
      );
    case 'integer':
      return parseInteger(path, kind, text);
    case 'enum':
      if (kind.values.includes(text)) return text;
      return invalid(
        path,
        `${path} must be one of ${kind.values.join(', ')}, not "${text}".`,
        `Set ${path}=${kind.values.join('|')}.`,
      );
    case 'string':
      return text;
    case 'pattern':
      return parsePattern(path, kind, text);
    case 'duration':
      if (DURATION.test(text)) return text;
      return invalid(
        path,
        `${path} must be a duration such as 0s, 500ms, 30s or 1m30s, not "${text}".`,
        `Set ${path}=<number><unit> with a unit of ns, us, ms, s, m or h.`,
      );
    case 'json':
      return parseJson(path, kind.check, text);
  }
}

/** What an unknown path could have been: the backend's fields, the backends, or the top-level paths. */
function unknownSetting(path: string): string {
  const shown = path.slice(0, 80);
  const [head, backend] = path.split('.');
  if (head === 'storage') {
    const fields = STORAGE_FIELDS[backend as (typeof STORAGE_BACKENDS)[number]];
    if (fields !== undefined && backend !== undefined) {
      const names = Object.keys(fields);
      return names.length === 0
        ? `Unknown setting "${shown}": storage.emptyDir takes no fields (set storage.emptyDir='{}').`
        : `Unknown setting "${shown}": storage.${backend} takes ${names.join(', ')}.`;
    }
    return `Unknown setting "${shown}": storage takes managementState or one backend of ${STORAGE_BACKENDS.join(', ')} (storage.<backend>.<field>, or storage.<backend>='{}' / =null).`;
  }
  const top = Object.keys(CONFIG_FIELDS).filter((name) => !name.startsWith('storage.'));
  return `Unknown setting "${shown}": config set takes ${top.join(', ')}, storage.managementState and storage.<backend>.<field>.`;
}

/**
 * Parse `path=value` settings (pure). `path=null` removes an optional field; JSON fields take JSON.
 * Throws `OPTION_INVALID` naming the field and its allowed values.
 */
export function parseConfigSettings(settings: readonly string[]): ConfigSetting[] {
  if (settings.length === 0) {
    invalid('', 'No setting given.', 'Give one or more PATH=VALUE settings, e.g. replicas=2 logLevel=Debug.');
  }
  const seen = new Set<string>();
  return settings.map((setting) => {
    const at = setting.indexOf('=');
    const path = at < 0 ? setting : setting.slice(0, at);
    const kind = CONFIG_FIELDS[path];
    if (kind === undefined) {
      return invalid(path, unknownSetting(path), 'Use one of those paths, as PATH=VALUE.');
    }
    if (at < 0)
      return invalid(
        path,
        `Setting "${path}" has no value.`,
        `Write it as ${path}=VALUE (${path}=null removes it).`,
      );
    if (seen.has(path)) return invalid(path, `${path} is given twice.`, 'Give each setting once.');
    seen.add(path);
    const text = setting.slice(at + 1);
    if (text === 'null') {
      if (REQUIRED.includes(path))
        return invalid(
          path,
          `${path} cannot be removed: the registry config always has it.`,
          `Set ${path} to a value instead.`,
        );
      return { path, value: null };
    }
    return { path, value: parseValue(path, kind, text) };
  });
}
