/** The string formats of k8s.io/kube-openapi strfmt that schemas may name. */
import { isIPv4, isIPv6 } from 'node:net';
import { parseCidr } from './ip.js';

export function isDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export function isDateTime(value: string): boolean {
  const parts = value.toLowerCase().split('t');
  if (value.length < 4 || parts.length < 2 || !isDate(parts[0] ?? '')) return false;
  const time = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/.exec(parts[1] ?? '');
  return time !== null && (time[1] ?? '') <= '23' && (time[2] ?? '') <= '59' && (time[3] ?? '') <= '59';
}

export function isBase64(value: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(
    value.replace(/[\r\n]/g, ''),
  );
}

const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;
const DURATION_UNITS: readonly (readonly string[])[] = [
  ['ns', 'nano'],
  ['us', 'µs', 'micro'],
  ['ms', 'milli'],
  ['s', 'sec'],
  ['m', 'min'],
  ['h', 'hr', 'hour'],
  ['d', 'day'],
  ['w', 'wk', 'week'],
];

/** strfmt.ParseDuration: a Go duration, or `<n> <unit>` words such as `3 days`. */
function isDuration(value: string): boolean {
  if (GO_DURATION.test(value)) return true;
  for (const match of value.matchAll(/(\d+)\s*([A-Za-zµ]+)/g)) {
    const unit = (match[2] ?? '').trim().toLowerCase();
    const known = DURATION_UNITS.some((variants) =>
      variants.some(
        (variant, i) => variant === unit || (i === variants.length - 1 && unit.startsWith(variant)),
      ),
    );
    if (known) return true;
  }
  return false;
}

const HOSTNAME =
  /^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$/u;

function isHostname(value: string): boolean {
  return HOSTNAME.test(value) && value.length <= 255 && value.split('.').every((label) => label.length <= 63);
}

/** net.ParseIP without zones (Go rejects them). */
function isGoIP(value: string): boolean {
  return !value.includes('%') && (isIPv4(value) || isIPv6(value));
}

function isCidrText(value: string): boolean {
  return parseCidr(value) !== undefined;
}

export const UUID_PATTERNS: ReadonlyArray<readonly [string, RegExp]> = [
  ['uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i],
  ['uuid3', /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i],
  ['uuid4', /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i],
  ['uuid5', /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i],
];

/** Validators by normalized format name (dashes removed); formats not listed are accepted. */
export const STRING_FORMATS: ReadonlyMap<string, (value: string) => boolean> = new Map([
  ['datetime', isDateTime],
  ['date', isDate],
  ['byte', isBase64],
  ['duration', isDuration],
  ['hostname', isHostname],
  ['ipv4', (value: string) => isGoIP(value) && value.includes('.')],
  ['ipv6', (value: string) => isGoIP(value) && value.includes(':')],
  ['cidr', isCidrText],
  ...UUID_PATTERNS.map(([name, pattern]): [string, (value: string) => boolean] => [
    name,
    (v) => pattern.test(v),
  ]),
]);
