/**
 * `JSON.stringify(value, null, 2)`, written out piece by piece. The plan and result of a run on a large
 * cluster are hundreds of MiB as one string; produced this way, only one array element is held as text at a
 * time, and the output is byte for byte the same.
 */

const INDENT = '  ';

/** The text of `value` in pieces; joined, they equal `JSON.stringify(value, null, 2)`. */
export function jsonPieces(value: unknown): Generator<string> {
  return piecesOf(toJson(value), 0);
}

/** Pieces of a value whose `toJSON` has already been applied (JSON.stringify applies it once). */
function* piecesOf(value: unknown, depth: number): Generator<string> {
  if (value === null || typeof value !== 'object') {
    // Top-level undefined, functions and symbols: JSON.stringify gives undefined; there is nothing to write.
    const text = JSON.stringify(value) as string | undefined;
    if (text !== undefined) yield text;
    return;
  }
  const inner = INDENT.repeat(depth + 1);
  const outer = INDENT.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    yield '[';
    for (let i = 0; i < value.length; i++) {
      // Elements are written whole: each is small, and there can be a million of them.
      const text = JSON.stringify(value[i], null, 2) as string | undefined;
      yield `${i === 0 ? '' : ','}\n${inner}${text === undefined ? 'null' : text.replaceAll('\n', `\n${inner}`)}`;
    }
    yield `\n${outer}]`;
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .map(([key, entry]) => [key, toJson(entry)] as const)
    .filter(([, entry]) => isWritten(entry));
  if (entries.length === 0) {
    yield '{}';
    return;
  }
  yield '{';
  for (const [i, [key, entry]] of entries.entries()) {
    yield `${i === 0 ? '' : ','}\n${inner}${JSON.stringify(key)}: `;
    yield* piecesOf(entry, depth + 1);
  }
  yield `\n${outer}}`;
}

/**
 * Writes `value` as `JSON.stringify(value, null, 2)` through `writeLine` (which ends what it is given with a
 * newline), in blocks of whole lines of about `blockBytes`, waiting whenever `writeLine` asks to.
 */
export async function writeJsonLines(
  value: unknown,
  writeLine: (text: string) => void | Promise<void>,
  blockBytes = 1 << 18,
): Promise<void> {
  let pending = '';
  for (const piece of jsonPieces(value)) {
    pending += piece;
    if (pending.length < blockBytes) continue;
    const end = pending.lastIndexOf('\n');
    if (end < 0) continue;
    await writeLine(pending.slice(0, end));
    pending = pending.slice(end + 1);
  }
  await writeLine(pending);
}

function toJson(value: unknown): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    return (value as { toJSON: () => unknown }).toJSON();
  }
  return value;
}

function isWritten(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
