/**
 * Duplicate keys in a JSON body. `JSON.parse` keeps the last of them silently; kube's strict decoder
 * (sigs.k8s.io/json) names each one, so `fieldValidation=Strict` refuses the body and `Warn` warns.
 */

/** Where scanning is: the text and the position. */
interface Cursor {
  text: string;
  at: number;
}

function skipSpace(c: Cursor): void {
  while (c.at < c.text.length && ' \t\n\r'.includes(c.text[c.at] ?? '')) c.at += 1;
}

/** Reads a string literal at the cursor (which is on its opening quote) and returns its value. */
function readString(c: Cursor): string {
  const start = c.at;
  c.at += 1;
  while (c.at < c.text.length && c.text[c.at] !== '"') c.at += c.text[c.at] === '\\' ? 2 : 1;
  c.at += 1;
  return JSON.parse(c.text.slice(start, c.at)) as string;
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Walks one value, noting the paths of duplicate keys in document order. */
function walk(c: Cursor, path: string, out: string[]): void {
  skipSpace(c);
  const ch = c.text[c.at];
  if (ch === '{') {
    c.at += 1;
    const seen = new Set<string>();
    for (;;) {
      skipSpace(c);
      if (c.text[c.at] === '}') {
        c.at += 1;
        return;
      }
      const key = readString(c);
      const at = childPath(path, key);
      if (seen.has(key)) out.push(at);
      seen.add(key);
      skipSpace(c);
      c.at += 1; // ':'
      walk(c, at, out);
      skipSpace(c);
      if (c.text[c.at] === ',') c.at += 1;
    }
  }
  if (ch === '[') {
    c.at += 1;
    for (let index = 0; ; index += 1) {
      skipSpace(c);
      if (c.text[c.at] === ']') {
        c.at += 1;
        return;
      }
      walk(c, `${path}[${index}]`, out);
      skipSpace(c);
      if (c.text[c.at] === ',') c.at += 1;
    }
  }
  if (ch === '"') {
    readString(c);
    return;
  }
  while (c.at < c.text.length && !',]} \t\n\r'.includes(c.text[c.at] ?? '')) c.at += 1;
}

/**
 * The paths of duplicate keys in a JSON document, as kube's strict decoder names them
 * (`metadata.name`, `spec.template.spec.containers[0].image`).
 *
 * @param text A JSON document that `JSON.parse` accepts (anything else gives no result).
 * @returns The paths of the second and later occurrences, in document order.
 */
export function duplicateFields(text: string): string[] {
  try {
    JSON.parse(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  walk({ text, at: 0 }, '', out);
  return out;
}
