import { errors } from './status.js';

type Requirement =
  { op: 'exists' | 'notexists'; key: string } | { op: 'in' | 'notin'; key: string; values: string[] };

/** A parsed label selector; matches a labels map. */
export type LabelSelector = (labels: Readonly<Record<string, string>>) => boolean;

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw errors.badRequest(`unable to parse requirement: invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (!VALUE.test(value))
    throw errors.badRequest(`unable to parse requirement: invalid label value: "${value}"`);
  return value;
}

function parseTerm(term: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (set) {
    const values = (set[3] ?? '').split(',').map((v) => checkValue(v.trim()));
    return { op: set[2] === 'in' ? 'in' : 'notin', key: checkKey(set[1] ?? ''), values };
  }
  const binary = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (binary) {
    const key = checkKey(binary[1] ?? '');
    const value = checkValue(binary[3] ?? '');
    return binary[2] === '!=' ? { op: 'notin', key, values: [value] } : { op: 'in', key, values: [value] };
  }
  if (term.startsWith('!')) return { op: 'notexists', key: checkKey(term.slice(1).trim()) };
  return { op: 'exists', key: checkKey(term) };
}

/** Parses `labelSelector` syntax (`a=b,c!=d,e in (x,y),!f,g`); 400 on malformed input. */
export function parseLabelSelector(text: string | null): LabelSelector {
  if (text === null || text.trim() === '') return () => true;
  const requirements = splitTerms(text).map(parseTerm);
  return (labels) =>
    requirements.every((r) => {
      const value = labels[r.key];
      switch (r.op) {
        case 'exists':
          return value !== undefined;
        case 'notexists':
          return value === undefined;
        case 'in':
          return value !== undefined && r.values.includes(value);
        case 'notin':
          return value === undefined || !r.values.includes(value);
      }
    });
}

/** A parsed field selector over the fields a resource supports. */
export type FieldSelector = (fields: Readonly<Record<string, string>>) => boolean;

/** Parses `fieldSelector` (`a=b,c!=d`) allowing only `supported` fields, as kube does (400 otherwise). */
export function parseFieldSelector(text: string | null, supported: readonly string[]): FieldSelector {
  if (text === null || text.trim() === '') return () => true;
  const terms = splitTerms(text).map((term) => {
    const match = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!match) throw errors.badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const field = match[1] ?? '';
    if (!supported.includes(field)) {
      throw errors.badRequest(`field label not supported: ${field}`);
    }
    return { field, negate: match[2] === '!=', value: match[3] ?? '' };
  });
  return (fields) => terms.every((t) => (fields[t.field] === t.value) !== t.negate);
}
