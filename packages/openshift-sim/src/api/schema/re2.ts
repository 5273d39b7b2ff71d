/** RE2 (Go regexp) patterns as ECMAScript RegExps, cached. */

const POSIX_CLASSES: ReadonlyMap<string, string> = new Map([
  ['alnum', '0-9A-Za-z'],
  ['alpha', 'A-Za-z'],
  ['ascii', '\\x00-\\x7F'],
  ['blank', '\\t '],
  ['cntrl', '\\x00-\\x1F\\x7F'],
  ['digit', '0-9'],
  ['graph', '!-~'],
  ['lower', 'a-z'],
  ['print', ' -~'],
  ['punct', '!-\\/:-@\\[-`{-~'],
  ['space', '\\t\\n\\v\\f\\r '],
  ['upper', 'A-Z'],
  ['word', '0-9A-Za-z_'],
  ['xdigit', '0-9A-Fa-f'],
]);

/** Translates one escape at `source[i]` (a backslash); returns the JS text and how many characters it used. */
function translateEscape(source: string, i: number): [string, number] {
  const next = source.charAt(i + 1);
  if (next === 'z') return ['$', 2];
  if (next === 'A') return ['^', 2];
  if ((next === 'p' || next === 'P') && source.charAt(i + 2) !== '{')
    return [`\\${next}{${source.charAt(i + 2)}}`, 3];
  if (next === 'Q') {
    const end = source.indexOf('\\E', i + 2);
    const literal = source.slice(i + 2, end < 0 ? source.length : end);
    return [literal.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'), (end < 0 ? source.length : end + 2) - i];
  }
  return [source.slice(i, i + 2), 2];
}

/** Rewrites the RE2-only syntax of a pattern: POSIX classes, `(?P<name>`, `\z`, `\A`, `\pL`, `\Q…\E`. */
function translateRe2Source(source: string): string {
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < source.length) {
    const ch = source.charAt(i);
    const posixEnd = inClass && source.startsWith('[:', i) ? source.indexOf(':]', i + 2) : -1;
    const posix = posixEnd > 0 ? POSIX_CLASSES.get(source.slice(i + 2, posixEnd)) : undefined;
    let piece = ch;
    let width = 1;
    if (ch === '\\') [piece, width] = translateEscape(source, i);
    else if (posix !== undefined) [piece, width] = [posix, posixEnd + 2 - i];
    else if (!inClass && source.startsWith('(?P<', i)) [piece, width] = ['(?<', 4];
    else if (!inClass && ch === '[') {
      inClass = true;
      const negated = source.charAt(i + 1) === '^';
      const start = negated ? '[^' : '[';
      // RE2 takes a `]` right after the opening bracket literally.
      [piece, width] =
        source.charAt(i + start.length) === ']' ? [`${start}\\]`, start.length + 1] : [start, start.length];
    } else if (inClass && ch === ']') inClass = false;
    out += piece;
    i += width;
  }
  return out;
}

const regexCache = new Map<string, RegExp | null>();
const REGEX_CACHE_LIMIT = 1000;

/** Compiles an RE2 pattern (as CRD `pattern` and CEL `matches` use), or returns undefined if it cannot. */
export function compileRe2(pattern: string): RegExp | undefined {
  const cached = regexCache.get(pattern);
  if (cached !== undefined) return cached ?? undefined;
  let source = pattern;
  let flags = '';
  const leading = /^\(\?([ims]+)\)/.exec(source);
  if (leading) {
    flags = [...new Set(leading[1] ?? '')].join('');
    source = source.slice(leading[0].length);
  }
  source = translateRe2Source(source);
  let compiled: RegExp | null = null;
  for (const extra of ['u', '']) {
    try {
      compiled = new RegExp(source, flags + extra);
      break;
    } catch {
      // try without the unicode flag, which rejects some escapes RE2 accepts
    }
  }
  if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
  regexCache.set(pattern, compiled);
  return compiled ?? undefined;
}

export function re2(pattern: string): RegExp {
  const compiled = compileRe2(pattern);
  if (!compiled) throw new Error(`invalid regular expression: ${pattern}`);
  return compiled;
}
