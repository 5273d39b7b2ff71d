/**
 * CEL values and the Kubernetes extension libraries (strings, lists, sets, ip/cidr, url, quantity, format).
 */
import { Environment, Optional } from '@marcbachmann/cel-js';
import type { JsonValue } from '../../json.js';
import type { Schema } from './types.js';
import { isJsonObject, isRecord } from './json-values.js';
import { re2 } from './re2.js';
import { propertySchema } from './prune.js';
import { UUID_PATTERNS, isBase64, isDate, isDateTime } from './formats.js';
import { CelCIDR, CelIP, cidrContains, parseCidr, parseIp } from './ip.js';

export type CelValue = null | boolean | number | bigint | string | CelValue[] | { [key: string]: CelValue };

/** A JSON value as CEL sees it under `schema`: integers become `int` (bigint), `type: number` stays double. */
export function toCel(value: JsonValue, schema: Schema | undefined): CelValue {
  if (typeof value === 'number') {
    return schema?.type === 'number' || !Number.isInteger(value) ? value : BigInt(value);
  }
  if (Array.isArray(value)) {
    const items = schema?.items;
    return value.map((item) => toCel(item, items));
  }
  if (isJsonObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [key, toCel(child, schema && propertySchema(schema, key))]),
    );
  }
  return value;
}

/** `self` for a node; at the root only `metadata.name` and `metadata.generateName` are visible, as in kube. */
export function celSelf(value: JsonValue, schema: Schema, root: boolean): CelValue {
  const converted = toCel(value, schema);
  if (!root || !isJsonObject(value) || typeof converted !== 'object' || converted === null) return converted;
  if (Array.isArray(converted)) return converted;
  const metadata = isJsonObject(value.metadata) ? value.metadata : {};
  const visible = Object.entries(metadata).filter(([key]) => key === 'name' || key === 'generateName');
  return {
    ...converted,
    metadata: Object.fromEntries(visible.map(([key, child]) => [key, toCel(child, undefined)])),
  };
}

function celFail(message: string): never {
  throw new Error(message);
}

function celEqual(a: unknown, b: unknown): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return Number(a) === Number(b);
  }
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => celEqual(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && celEqual(a[key], b[key]))
    );
  }
  return a === b;
}

function celCompare(a: unknown, b: unknown): number {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return celFail('no such overload: comparison of incompatible types');
}

function celSum(list: unknown[]): unknown {
  if (list.length === 0) return 0n;
  if (list.every((item): item is bigint => typeof item === 'bigint'))
    return list.reduce((sum, item) => sum + item, 0n);
  if (list.every((item): item is number => typeof item === 'number'))
    return list.reduce((sum, item) => sum + item, 0);
  return celFail('no such overload: sum() of mixed or non-numeric list');
}

function celExtreme(list: unknown[], sign: 1 | -1): unknown {
  if (list.length === 0) return celFail('min/max of an empty list');
  return list.reduce((best, item) => (celCompare(item, best) * sign > 0 ? item : best));
}

function charAt(value: string, index: bigint): string {
  const chars = [...value];
  const i = Number(index);
  if (i < 0 || i > chars.length) return celFail(`index out of range: ${i}`);
  return chars[i] ?? '';
}

function replaceN(value: string, from: string, to: string, limit: bigint): string {
  const parts = value.split(from);
  const n = Number(limit);
  if (n < 0 || parts.length - 1 <= n) return parts.join(to);
  return parts.slice(0, n + 1).join(to) + from + parts.slice(n + 1).join(from);
}

function findAll(value: string, pattern: string, limit: number): string[] {
  const compiled = re2(pattern);
  const global = new RegExp(compiled.source, `${compiled.flags}g`);
  const found = [...value.matchAll(global)].map((match) => match[0]);
  return limit < 0 ? found : found.slice(0, limit);
}

function registerStringLibrary(env: Environment): void {
  env
    .registerFunction('string.charAt(int): string', charAt)
    .registerFunction('string.replace(string, string): string', (s: string, a: string, b: string) =>
      s.split(a).join(b),
    )
    .registerFunction('string.replace(string, string, int): string', replaceN)
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
    // `matches` is rewritten to `re2Matches` before compiling, to get RE2 syntax (POSIX classes, …).
    .registerFunction('string.re2Matches(string): bool', (s: string, pattern: string) => re2(pattern).test(s))
    .registerFunction('re2Matches(string, string): bool', (s: string, pattern: string) =>
      re2(pattern).test(s),
    )
    .registerFunction(
      'string.find(string): string',
      (s: string, pattern: string) => re2(pattern).exec(s)?.[0] ?? '',
    )
    .registerFunction('string.findAll(string): list<string>', (s: string, pattern: string) =>
      findAll(s, pattern, -1),
    )
    .registerFunction('string.findAll(string, int): list<string>', (s: string, pattern: string, n: bigint) =>
      findAll(s, pattern, Number(n)),
    );
}

class SetsNamespace {}

function registerListLibrary(env: Environment): void {
  const contains = (list: unknown[], items: unknown[]): boolean =>
    items.every((item) => list.some((member) => celEqual(member, item)));
  env
    .registerFunction('list.isSorted(): bool', (list: unknown[]) =>
      list.every((item, i) => i === 0 || celCompare(list[i - 1], item) <= 0),
    )
    .registerFunction('list.sum(): dyn', celSum)
    .registerFunction('list.min(): dyn', (list: unknown[]) => celExtreme(list, -1))
    .registerFunction('list.max(): dyn', (list: unknown[]) => celExtreme(list, 1))
    .registerFunction('list.indexOf(dyn): int', (list: unknown[], item: unknown) =>
      BigInt(list.findIndex((member) => celEqual(member, item))),
    )
    .registerFunction('list.lastIndexOf(dyn): int', (list: unknown[], item: unknown) =>
      BigInt(list.findLastIndex((member) => celEqual(member, item))),
    )
    .registerType('SetsNamespace', SetsNamespace)
    .registerConstant('sets', 'SetsNamespace', new SetsNamespace())
    .registerFunction(
      'SetsNamespace.contains(list, list): bool',
      (_: SetsNamespace, a: unknown[], b: unknown[]) => contains(a, b),
    )
    .registerFunction(
      'SetsNamespace.equivalent(list, list): bool',
      (_: SetsNamespace, a: unknown[], b: unknown[]) => contains(a, b) && contains(b, a),
    )
    .registerFunction(
      'SetsNamespace.intersects(list, list): bool',
      (_: SetsNamespace, a: unknown[], b: unknown[]) =>
        b.some((item) => a.some((member) => celEqual(member, item))),
    );
}
function registerNetworkLibrary(env: Environment): void {
  const ip = (text: string): CelIP => parseIp(text) ?? celFail(`IP Address '${text}' parse error`);
  const cidr = (text: string): CelCIDR =>
    parseCidr(text) ?? celFail(`network address parse error during conversion`);
  env
    .registerType('net.IP', CelIP)
    .registerType('net.CIDR', CelCIDR)
    .registerFunction('isIP(string): bool', (text: string) => parseIp(text) !== undefined)
    .registerFunction('ip(string): net.IP', ip)
    .registerFunction('net.IP.family(): int', (address: CelIP) => BigInt(address.family))
    .registerFunction('net.IP.isUnspecified(): bool', (address: CelIP) => address.bits === 0n)
    .registerFunction('net.IP.isLoopback(): bool', (address: CelIP) =>
      address.family === 4 ? address.bits >> 24n === 127n : address.bits === 1n,
    )
    .registerFunction('isCIDR(string): bool', (text: string) => parseCidr(text) !== undefined)
    .registerFunction('cidr(string): net.CIDR', cidr)
    .registerFunction('net.CIDR.prefixLength(): int', (range: CelCIDR) => BigInt(range.prefix))
    .registerFunction('net.CIDR.ip(): net.IP', (range: CelCIDR) => range.address)
    .registerFunction('net.CIDR.containsIP(string): bool', (range: CelCIDR, text: string) =>
      cidrContains(range, ip(text)),
    )
    .registerFunction('net.CIDR.containsIP(net.IP): bool', cidrContains);
}

/** A parsed URL (the `kubernetes.URL` CEL type); `url` is undefined for a bare absolute path. */
class CelURL {
  constructor(
    readonly url: URL | undefined,
    readonly path: string,
  ) {}
}

/** url.ParseRequestURI: an absolute URL or an absolute path. */
function parseUrl(text: string): CelURL | undefined {
  if (text.startsWith('/')) return new CelURL(undefined, text);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text) || /\s/.test(text)) return undefined;
  try {
    return new CelURL(new URL(text), '');
  } catch {
    return undefined;
  }
}

function urlQuery(value: CelURL): Record<string, string[]> {
  const params = value.url?.searchParams ?? new URLSearchParams(value.path.split('?')[1] ?? '');
  const query: Record<string, string[]> = {};
  for (const [key, item] of params) query[key] = [...(query[key] ?? []), item];
  return query;
}

function registerUrlLibrary(env: Environment): void {
  env
    .registerType('kubernetes.URL', CelURL)
    .registerFunction('isURL(string): bool', (text: string) => parseUrl(text) !== undefined)
    .registerFunction(
      'url(string): kubernetes.URL',
      (text: string) => parseUrl(text) ?? celFail(`URL parse error: ${text}`),
    )
    .registerFunction(
      'kubernetes.URL.getScheme(): string',
      (u: CelURL) => u.url?.protocol.replace(/:$/, '') ?? '',
    )
    .registerFunction('kubernetes.URL.getHost(): string', (u: CelURL) => u.url?.host ?? '')
    .registerFunction('kubernetes.URL.getHostname(): string', (u: CelURL) =>
      (u.url?.hostname ?? '').replace(/^\[(.*)\]$/, '$1'),
    )
    .registerFunction('kubernetes.URL.getPort(): string', (u: CelURL) => u.url?.port ?? '')
    .registerFunction('kubernetes.URL.getEscapedPath(): string', (u: CelURL) =>
      u.url ? u.url.pathname : (u.path.split('?')[0] ?? ''),
    )
    .registerFunction('kubernetes.URL.getQuery(): map<string, list<string>>', urlQuery);
}

const QUANTITY =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|(?:[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)))?$/;
const QUANTITY_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['n', 1e-9],
  ['u', 1e-6],
  ['m', 1e-3],
  ['k', 1e3],
  ['M', 1e6],
  ['G', 1e9],
  ['T', 1e12],
  ['P', 1e15],
  ['E', 1e18],
  ['Ki', 2 ** 10],
  ['Mi', 2 ** 20],
  ['Gi', 2 ** 30],
  ['Ti', 2 ** 40],
  ['Pi', 2 ** 50],
  ['Ei', 2 ** 60],
]);

/** A resource quantity (the `kubernetes.Quantity` CEL type), held as an approximate float. */
class CelQuantity {
  constructor(readonly value: number) {}
}

function parseQuantity(text: string): CelQuantity | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const suffix = match[2] ?? '';
  const factor = QUANTITY_SUFFIXES.get(suffix) ?? 10 ** Number(suffix.slice(1));
  return new CelQuantity(Number(match[1]) * factor);
}

function registerQuantityLibrary(env: Environment): void {
  const compare = (a: CelQuantity, b: CelQuantity): bigint => BigInt(Math.sign(a.value - b.value));
  env
    .registerType('kubernetes.Quantity', CelQuantity)
    .registerFunction('isQuantity(string): bool', (text: string) => parseQuantity(text) !== undefined)
    .registerFunction(
      'quantity(string): kubernetes.Quantity',
      (text: string) =>
        parseQuantity(text) ?? celFail(`quantities must match the regular expression '${QUANTITY.source}'`),
    )
    .registerFunction('kubernetes.Quantity.asApproximateFloat(): double', (q: CelQuantity) => q.value)
    .registerFunction('kubernetes.Quantity.isInteger(): bool', (q: CelQuantity) => Number.isInteger(q.value))
    .registerFunction('kubernetes.Quantity.asInteger(): int', (q: CelQuantity) =>
      Number.isInteger(q.value) ? BigInt(q.value) : celFail('cannot convert value to integer'),
    )
    .registerFunction('kubernetes.Quantity.sign(): int', (q: CelQuantity) => BigInt(Math.sign(q.value)))
    .registerFunction('kubernetes.Quantity.compareTo(kubernetes.Quantity): int', compare)
    .registerFunction(
      'kubernetes.Quantity.isGreaterThan(kubernetes.Quantity): bool',
      (a: CelQuantity, b: CelQuantity) => a.value > b.value,
    )
    .registerFunction(
      'kubernetes.Quantity.isLessThan(kubernetes.Quantity): bool',
      (a: CelQuantity, b: CelQuantity) => a.value < b.value,
    )
    .registerFunction(
      'kubernetes.Quantity.add(kubernetes.Quantity): kubernetes.Quantity',
      (a: CelQuantity, b: CelQuantity) => new CelQuantity(a.value + b.value),
    )
    .registerFunction(
      'kubernetes.Quantity.sub(kubernetes.Quantity): kubernetes.Quantity',
      (a: CelQuantity, b: CelQuantity) => new CelQuantity(a.value - b.value),
    );
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function regexFormat(pattern: RegExp, max: number, description: string): (value: string) => string[] {
  return (value) => [
    ...(value.length > max ? [`must be no more than ${max} characters`] : []),
    ...(pattern.test(value) ? [] : [`${description} (regex used for validation is '${pattern.source}')`]),
  ];
}

const dns1123Label = regexFormat(
  DNS1123_LABEL,
  63,
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
);
const dns1123Subdomain = regexFormat(
  DNS1123_SUBDOMAIN,
  253,
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
);
const dns1035Label = regexFormat(
  DNS1035_LABEL,
  63,
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
);
const labelValue = (value: string): string[] =>
  value === ''
    ? []
    : regexFormat(
        QUALIFIED_NAME_PART,
        63,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
      )(value);

function qualifiedName(value: string): string[] {
  const parts = value.split('/');
  const name = parts[parts.length - 1] ?? '';
  if (parts.length > 2) return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.'"];
  const prefixErrors =
    parts.length === 2 ? dns1123Subdomain(parts[0] ?? '').map((e) => `prefix part ${e}`) : [];
  if (name === '') return [...prefixErrors, 'name part must be non-empty'];
  return [
    ...prefixErrors,
    ...regexFormat(
      QUALIFIED_NAME_PART,
      63,
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    )(name),
  ];
}

/** Prefix formats (generateName) accept a trailing dash. */
function asPrefix(check: (value: string) => string[]): (value: string) => string[] {
  return (value) => check(value.endsWith('-') ? `${value.slice(0, -1)}a` : value);
}

const FORMAT_VALIDATORS: ReadonlyMap<string, (value: string) => string[]> = new Map([
  ['dns1123Label', dns1123Label],
  ['dns1123Subdomain', dns1123Subdomain],
  ['dns1035Label', dns1035Label],
  ['qualifiedName', qualifiedName],
  ['dns1123LabelPrefix', asPrefix(dns1123Label)],
  ['dns1123SubdomainPrefix', asPrefix(dns1123Subdomain)],
  ['dns1035LabelPrefix', asPrefix(dns1035Label)],
  ['labelValue', labelValue],
  ['uri', (value: string) => (parseUrl(value) ? [] : ['invalid URI'])],
  ['uuid', (value: string) => (UUID_PATTERNS[0]?.[1].test(value) ? [] : ['does not match the UUID format'])],
  ['byte', (value: string) => (isBase64(value) ? [] : ['invalid base64'])],
  ['date', (value: string) => (isDate(value) ? [] : ['an RFC3339 date'])],
  ['datetime', (value: string) => (isDateTime(value) ? [] : ['an RFC3339 date-time'])],
]);

class FormatNamespace {}

/** A named string format (the `kubernetes.NamedFormat` CEL type). */
class NamedFormat {
  constructor(readonly check: (value: string) => string[]) {}
}

function registerFormatLibrary(env: Environment): void {
  env
    .registerType('FormatNamespace', FormatNamespace)
    .registerType('kubernetes.NamedFormat', NamedFormat)
    .registerConstant('format', 'FormatNamespace', new FormatNamespace())
    .registerFunction(
      'FormatNamespace.named(string): optional<kubernetes.NamedFormat>',
      (_: FormatNamespace, name: string) => {
        const check = FORMAT_VALIDATORS.get(name);
        return check ? Optional.of(new NamedFormat(check)) : Optional.none();
      },
    )
    .registerFunction(
      'kubernetes.NamedFormat.validate(string): optional<list<string>>',
      (format: NamedFormat, value: string) => {
        const problems = format.check(value);
        return problems.length > 0 ? Optional.of(problems) : Optional.none();
      },
    );
  for (const [name, check] of FORMAT_VALIDATORS) {
    env.registerFunction(`FormatNamespace.${name}(): kubernetes.NamedFormat`, () => new NamedFormat(check));
  }
}

interface CelEnvironments {
  /** `oldSelf` is the old value (dyn). */
  plain: Environment;
  /** `oldSelf` is an optional, for rules with `optionalOldSelf: true`. */
  optionalOldSelf: Environment;
}

function createCelEnvironments(): CelEnvironments {
  const base = new Environment({ enableOptionalTypes: true }).registerVariable('self', 'dyn');
  registerStringLibrary(base);
  registerListLibrary(base);
  registerNetworkLibrary(base);
  registerUrlLibrary(base);
  registerQuantityLibrary(base);
  registerFormatLibrary(base);
  return {
    plain: base.clone().registerVariable('oldSelf', 'dyn'),
    optionalOldSelf: base.clone().registerVariable('oldSelf', 'optional<dyn>'),
  };
}

let celEnvironments: CelEnvironments | undefined;

export function celEnv(optionalOldSelf: boolean): Environment {
  celEnvironments ??= createCelEnvironments();
  return optionalOldSelf ? celEnvironments.optionalOldSelf : celEnvironments.plain;
}
