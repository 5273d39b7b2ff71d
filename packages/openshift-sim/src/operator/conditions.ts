import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';

/** One operator condition as the operator writes it (before transition times are merged in). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Merges desired conditions into existing ones, keeping `lastTransitionTime` when the status did not
 * change (as library-go's condition helpers do) and stamping it when it did.
 */
export function mergeConditions(
  existing: JsonValue | undefined,
  desired: readonly Condition[],
): JsonObject[] {
  const previous = Array.isArray(existing) ? existing.filter(isJsonObject) : [];
  const merged = previous.filter((p) => !desired.some((d) => d.type === p['type']));
  for (const condition of desired) {
    const before = previous.find((p) => p['type'] === condition.type);
    const time =
      before && before['status'] === condition.status && typeof before['lastTransitionTime'] === 'string'
        ? before['lastTransitionTime']
        : now();
    merged.push({
      type: condition.type,
      status: condition.status,
      lastTransitionTime: time,
      ...(condition.reason !== undefined ? { reason: condition.reason } : {}),
      ...(condition.message !== undefined ? { message: condition.message } : {}),
    });
  }
  return merged;
}
