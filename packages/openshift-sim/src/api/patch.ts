// PATCH as kube-apiserver applies it, as pure functions: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
// and strategic merge patch for built-in kinds, refusing broken patches with the status a real server answers.
//
// The behaviour (not the code) follows k8s.io/apiserver endpoints/handlers/patch.go (content-type check, which
// error becomes which status), gopkg.in/evanphx/json-patch.v4 (JSON patch and merge patch as kube runs them,
// and its error texts) and k8s.io/apimachinery util/strategicpatch (the strategic merge, its directives and its
// list ordering).

import type { JsonObject, JsonValue } from '../json.js';

/**
 * A patch format: `merge` is RFC 7386 JSON merge patch, `json` is RFC 6902 JSON patch, `strategic` is
 * Kubernetes' strategic merge patch (built-in kinds only).
 */
export type PatchType = 'merge' | 'json' | 'strategic';

/**
 * Why a patch was refused, as the `reason` of the Status the server answers: `BadRequest` is 400, `Invalid`
 * 422, `Conflict` 409 and `UnsupportedMediaType` 415.
 */
export type PatchErrorReason = 'BadRequest' | 'Invalid' | 'Conflict' | 'UnsupportedMediaType';

/**
 * Thrown for a patch that cannot be applied; `reason` decides the HTTP status the server answers.
 *
 * `message` is what kube puts in the Status `message`. For the failures kube reports as a generic 422 ("the
 * server rejected our request due to an error in our request": a failing JSON patch operation, a list of lists
 * in a strategic patch) the specific cause, worded as kube's patch libraries word it, is in `detail`; kube sends
 * it as `details.causes[0].message` with cause reason `UnexpectedServerResponse`.
 */
export class PatchError extends Error {
  override readonly name = 'PatchError';

  /**
   * @param reason - the Status reason, which decides the HTTP status.
   * @param message - the Status message.
   * @param detail - the underlying cause, when `message` is kube's generic 422 text.
   */
  constructor(
    readonly reason: PatchErrorReason,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

const JSON_PATCH_MEDIA_TYPE = 'application/json-patch+json';
const MERGE_PATCH_MEDIA_TYPE = 'application/merge-patch+json';
const STRATEGIC_MERGE_PATCH_MEDIA_TYPE = 'application/strategic-merge-patch+json';
const APPLY_PATCH_MEDIA_TYPE = 'application/apply-patch+yaml';

/** The Status message kube sends for a JSON patch that fails to apply (the cause goes into the details). */
const REJECTED = 'the server rejected our request due to an error in our request';

/**
 * Maps a PATCH request's Content-Type to the patch type, as kube-apiserver does: parameters after `;` are
 * dropped, the media type must then match exactly. Strategic merge patch is only accepted when
 * `strategicAllowed` (built-in kinds); custom resources answer 415 for it. Server-side apply
 * (`application/apply-patch+yaml`) is not simulated, so it is refused like any unknown type, with kube's
 * message (which still lists it, as the real server accepts it).
 *
 * @param contentType - the request's Content-Type header, if any.
 * @param strategicAllowed - whether the resource is a built-in kind that takes strategic merge patches.
 * @returns the patch type.
 * @throws PatchError `UnsupportedMediaType` for any other media type.
 */
export function patchTypeForContentType(
  contentType: string | undefined,
  strategicAllowed: boolean,
): PatchType {
  const header = contentType ?? '';
  const semicolon = header.indexOf(';');
  const mediaType = semicolon > 0 ? header.slice(0, semicolon) : header;
  if (mediaType === JSON_PATCH_MEDIA_TYPE) return 'json';
  if (mediaType === MERGE_PATCH_MEDIA_TYPE) return 'merge';
  if (mediaType === STRATEGIC_MERGE_PATCH_MEDIA_TYPE && strategicAllowed) return 'strategic';
  const accepted = strategicAllowed
    ? [
        JSON_PATCH_MEDIA_TYPE,
        MERGE_PATCH_MEDIA_TYPE,
        STRATEGIC_MERGE_PATCH_MEDIA_TYPE,
        APPLY_PATCH_MEDIA_TYPE,
      ]
    : [JSON_PATCH_MEDIA_TYPE, MERGE_PATCH_MEDIA_TYPE, APPLY_PATCH_MEDIA_TYPE];
  throw new PatchError(
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/**
 * Parses a PATCH body and applies it to `target` the way kube-apiserver does for `type`. The result is a new
 * object; `target` is left untouched.
 *
 * Refusals follow kube: a body that is not JSON is 400; a JSON patch body that is not an array is 400
 * (`json: cannot unmarshal object into Go value of type jsonpatch.Patch`); a merge patch body that is `null`
 * or a scalar is 400 (`Invalid JSON Patch`) and one that is an array is 422 (the patched document is no
 * longer an object); a strategic patch body that is not an object is 400. A `null` JSON patch or strategic
 * patch body changes nothing, as in kube (Go decodes `null` into an empty patch).
 *
 * @param type - the patch type, from {@link patchTypeForContentType}.
 * @param target - the stored object.
 * @param body - the raw request body (UTF-8 JSON).
 * @param kind - the resource's kind, for the strategic merge metadata (see {@link applyStrategicMergePatch}).
 * @returns the patched object.
 * @throws PatchError when the body cannot be decoded or the patch cannot be applied.
 */
export function applyPatch(
  type: PatchType,
  target: JsonObject,
  body: Buffer | string,
  kind: string,
): JsonObject {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  switch (type) {
    case 'json':
      return jsonPatchToObject(target, text);
    case 'merge':
      return mergePatchToObject(target, text);
    case 'strategic':
      return strategicPatchToObject(target, text, kind);
  }
}

function jsonPatchToObject(target: JsonObject, text: string): JsonObject {
  const result = applyJsonPatch(target, parseJson(text));
  if (!isObject(result)) throw notAnObject(result);
  return result;
}

function mergePatchToObject(target: JsonObject, text: string): JsonObject {
  let patch: JsonValue;
  try {
    patch = parseJson(text);
  } catch {
    throw badRequest('Invalid JSON Patch');
  }
  if (Array.isArray(patch)) throw notAnObject(patch);
  if (!isObject(patch)) throw badRequest('Invalid JSON Patch');
  return mergeObjects(cloneJson(target), patch);
}

function strategicPatchToObject(target: JsonObject, text: string, kind: string): JsonObject {
  const patch = parseJson(text);
  if (patch === null) return cloneJson(target);
  if (!isObject(patch)) {
    throw badRequest(
      `json: cannot unmarshal ${goTypeName(patch)} into Go value of type map[string]interface {}`,
    );
  }
  return applyStrategicMergePatch(target, patch, kind);
}

/** Parses a body; a syntax error is a 400 worded like Go's encoding/json where that is easy. */
function parseJson(text: string): JsonValue {
  try {
    const value: unknown = JSON.parse(text);
    return value as JsonValue;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw badRequest(
      /end of JSON input/i.test(message) ? 'unexpected end of JSON input' : `invalid JSON: ${message}`,
    );
  }
}

/** kube decodes the patched document into the object; a document that is no object fails that with a 422. */
function notAnObject(value: JsonValue): PatchError {
  return new PatchError(
    'Invalid',
    `"" is invalid: patch: Invalid value: ${JSON.stringify(JSON.stringify(value))}: ` +
      `json: cannot unmarshal ${goTypeName(value)} into Go value of type map[string]interface {}`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// RFC 7386 JSON merge patch

/**
 * Applies an RFC 7386 JSON merge patch: an object patch merges into the target recursively (a non-object
 * target counts as `{}`), a `null` member deletes the key, anything else (arrays included) replaces the
 * target. Returns a new value; neither argument is modified.
 *
 * @param target - the document to patch.
 * @param patch - the merge patch.
 * @returns the patched document.
 */
export function applyMergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return cloneJson(patch);
  return mergeObjects(isObject(target) ? cloneJson(target) : {}, patch);
}

/** Merges `patch` into `target`, which it modifies and returns; values taken from `patch` are copied. */
function mergeObjects(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
    } else if (isObject(value)) {
      const current = own(target, key);
      setOwn(target, key, mergeObjects(isObject(current) ? current : {}, value));
    } else {
      setOwn(target, key, cloneJson(value));
    }
  }
  return target;
}

// ---------------------------------------------------------------------------------------------------------
// RFC 6902 JSON patch

/**
 * Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`; JSON pointers with
 * `~0`/`~1` escapes and `-` to append to an array). Returns a new value; neither argument is modified.
 *
 * Errors are kube's: a patch that does not decode as a list of operation objects is a 400 (`json: cannot
 * unmarshal object into Go value of type jsonpatch.Patch`); `null` is an empty patch. Anything that goes wrong
 * while applying (a failed `test`, a path that does not exist, an unknown or missing `op`, a missing `path`,
 * `from` or `value`) is a 422 with kube's generic message and json-patch's wording of the cause in
 * {@link PatchError.detail}: kube runs the operations only after decoding the whole patch and reports every
 * failure of that run alike.
 *
 * @param target - the document to patch.
 * @param operations - the decoded JSON patch, normally an array of operation objects.
 * @returns the patched document.
 * @throws PatchError `BadRequest` for a patch that is not a list of objects, `Invalid` when an operation fails.
 */
export function applyJsonPatch(target: JsonValue, operations: JsonValue): JsonValue {
  let doc = cloneJson(target);
  for (const operation of decodeOperations(operations)) doc = applyOperation(doc, operation);
  return doc;
}

function decodeOperations(operations: JsonValue): JsonObject[] {
  if (operations === null) return [];
  if (!Array.isArray(operations)) {
    throw badRequest(
      `json: cannot unmarshal ${goTypeName(operations)} into Go value of type jsonpatch.Patch`,
    );
  }
  return operations.map((operation) => {
    if (operation === null) return {};
    if (!isObject(operation)) {
      throw badRequest(
        `json: cannot unmarshal ${goTypeName(operation)} into Go value of type jsonpatch.Operation`,
      );
    }
    return operation;
  });
}

/** A parsed JSON pointer: its text (for messages) and its unescaped reference tokens. */
interface Pointer {
  readonly text: string;
  readonly parent: readonly string[];
  /** The last token; undefined for the whole document (""). */
  readonly key: string | undefined;
}

function applyOperation(doc: JsonValue, operation: JsonObject): JsonValue {
  const op = own(operation, 'op');
  const kind = typeof op === 'string' ? op : 'unknown';
  switch (kind) {
    case 'add':
      return addAt(doc, pointerField(operation, 'path', kind), valueField(operation, kind));
    case 'remove':
      return removeAt(doc, pointerField(operation, 'path', kind), kind);
    case 'replace':
      return replaceAt(doc, pointerField(operation, 'path', kind), valueField(operation, kind));
    case 'move':
      return moveTo(doc, pointerField(operation, 'from', kind), pointerField(operation, 'path', kind));
    case 'copy':
      return copyTo(doc, pointerField(operation, 'from', kind), pointerField(operation, 'path', kind));
    case 'test':
      return testAt(doc, pointerField(operation, 'path', kind), valueField(operation, kind));
    default:
      throw rejected(`Unexpected kind: ${kind}`);
  }
}

function pointerField(operation: JsonObject, field: 'path' | 'from', kind: string): Pointer {
  const text = own(operation, field);
  if (typeof text !== 'string') throw rejected(`${kind} operation failed to decode ${field}: missing value`);
  if (text === '') return { text, parent: [], key: undefined };
  if (!text.startsWith('/'))
    throw rejected(`${kind} operation does not apply: invalid JSON pointer "${text}"`);
  const tokens = text
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
  const key = tokens.pop();
  return { text, parent: tokens, key };
}

function valueField(operation: JsonObject, kind: string): JsonValue {
  const value = own(operation, 'value');
  if (value === undefined) throw rejected(`${kind} operation, missing value field: missing value`);
  return cloneJson(value);
}

function resolve(doc: JsonValue, tokens: readonly string[]): JsonValue | undefined {
  let current: JsonValue | undefined = doc;
  for (const token of tokens) {
    if (current === undefined) return undefined;
    current = childOf(current, token);
  }
  return current;
}

function childOf(container: JsonValue, token: string): JsonValue | undefined {
  if (Array.isArray(container)) {
    const index = arrayIndex(token);
    return index === undefined ? undefined : container[index];
  }
  return isObject(container) ? own(container, token) : undefined;
}

function valueAt(doc: JsonValue, pointer: Pointer): JsonValue | undefined {
  return pointer.key === undefined ? doc : resolve(doc, [...pointer.parent, pointer.key]);
}

/** An array index token: digits without leading zeros ("-" and "01" are not). */
function arrayIndex(token: string): number | undefined {
  return /^(0|[1-9][0-9]*)$/.test(token) ? Number(token) : undefined;
}

function invalidIndex(token: string): PatchError {
  return rejected(`Unable to access invalid index: ${token}: invalid index referenced`);
}

function addAt(doc: JsonValue, pointer: Pointer, value: JsonValue): JsonValue {
  if (pointer.key === undefined) return value;
  const parent = resolve(doc, pointer.parent);
  if (isObject(parent)) {
    setOwn(parent, pointer.key, value);
  } else if (Array.isArray(parent)) {
    const index = pointer.key === '-' ? parent.length : arrayIndex(pointer.key);
    if (index === undefined || index > parent.length) throw invalidIndex(pointer.key);
    parent.splice(index, 0, value);
  } else {
    throw rejected(`add operation does not apply: doc is missing path: "${pointer.text}": missing value`);
  }
  return doc;
}

function removeAt(doc: JsonValue, pointer: Pointer, kind: string): JsonValue {
  const parent = pointer.key === undefined ? undefined : resolve(doc, pointer.parent);
  if (pointer.key === undefined || !(isObject(parent) || Array.isArray(parent))) {
    throw rejected(`${kind} operation does not apply: doc is missing path: "${pointer.text}": missing value`);
  }
  if (Array.isArray(parent)) {
    const index = arrayIndex(pointer.key);
    if (index === undefined || index >= parent.length) throw invalidIndex(pointer.key);
    parent.splice(index, 1);
  } else {
    if (!Object.hasOwn(parent, pointer.key)) {
      throw rejected(`Unable to remove nonexistent key: ${pointer.key}: missing value`);
    }
    delete parent[pointer.key];
  }
  return doc;
}

function replaceAt(doc: JsonValue, pointer: Pointer, value: JsonValue): JsonValue {
  if (pointer.key === undefined) return value;
  const parent = resolve(doc, pointer.parent);
  if (Array.isArray(parent)) {
    const index = arrayIndex(pointer.key);
    if (index === undefined || index >= parent.length) throw invalidIndex(pointer.key);
    parent[index] = value;
  } else if (isObject(parent) && Object.hasOwn(parent, pointer.key)) {
    setOwn(parent, pointer.key, value);
  } else {
    throw rejected(`replace operation does not apply: doc is missing key: ${pointer.text}: missing value`);
  }
  return doc;
}

function moveTo(doc: JsonValue, from: Pointer, path: Pointer): JsonValue {
  const value = valueAt(doc, from);
  if (value === undefined) {
    throw rejected(`move operation does not apply: doc is missing from path: ${from.text}: missing value`);
  }
  if (path.text === from.text) return doc;
  if (path.text.startsWith(`${from.text}/`)) {
    throw rejected(`move operation does not apply: "from" ${from.text} is a prefix of "path" ${path.text}`);
  }
  return addAt(removeAt(doc, from, 'move'), path, value);
}

function copyTo(doc: JsonValue, from: Pointer, path: Pointer): JsonValue {
  const value = valueAt(doc, from);
  if (value === undefined) {
    throw rejected(`copy operation does not apply: doc is missing from path: ${from.text}: missing value`);
  }
  return addAt(doc, path, cloneJson(value));
}

function testAt(doc: JsonValue, pointer: Pointer, expected: JsonValue): JsonValue {
  const actual = valueAt(doc, pointer);
  if (actual === undefined || !jsonEqual(actual, expected)) {
    throw rejected(`testing value ${pointer.text} failed: test failed`);
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------------------
// Strategic merge patch

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';

const BAD_RETAIN_KEYS = 'invalid patch format of retainKeys';
const BAD_PRIMITIVE_LIST = 'invalid patch format of primitive list';
const BAD_SET_ELEMENT_ORDER = 'invalid patch format of setElementOrder list';

/**
 * A list that merges instead of being replaced (`patchStrategy:"merge"` in the Go types): its path, as the
 * field names leading to it with list positions left out and matched as a suffix, the merge key (none for a
 * list of scalars, which merges as a set) and, where a field name means different things in different kinds,
 * the kinds it applies to. Any other list is atomic: the patch's list replaces it.
 */
interface MergeList {
  readonly suffix: readonly string[];
  readonly mergeKey?: string;
  readonly kinds?: readonly string[];
}

const MERGE_LISTS: readonly MergeList[] = [
  // ObjectMeta
  { suffix: ['metadata', 'finalizers'] },
  { suffix: ['metadata', 'ownerReferences'], mergeKey: 'uid' },
  // PodSpec, wherever a pod template sits (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob)
  { suffix: ['containers'], mergeKey: 'name' },
  { suffix: ['initContainers'], mergeKey: 'name' },
  { suffix: ['ephemeralContainers'], mergeKey: 'name' },
  { suffix: ['spec', 'volumes'], mergeKey: 'name' },
  { suffix: ['spec', 'imagePullSecrets'], mergeKey: 'name' },
  { suffix: ['spec', 'hostAliases'], mergeKey: 'ip' },
  { suffix: ['spec', 'topologySpreadConstraints'], mergeKey: 'topologyKey' },
  { suffix: ['spec', 'schedulingGates'], mergeKey: 'name' },
  { suffix: ['spec', 'resourceClaims'], mergeKey: 'name' },
  // Container
  { suffix: ['containers', 'ports'], mergeKey: 'containerPort' },
  { suffix: ['initContainers', 'ports'], mergeKey: 'containerPort' },
  { suffix: ['ephemeralContainers', 'ports'], mergeKey: 'containerPort' },
  { suffix: ['env'], mergeKey: 'name' },
  { suffix: ['volumeMounts'], mergeKey: 'mountPath' },
  { suffix: ['volumeDevices'], mergeKey: 'devicePath' },
  // Status conditions of every built-in kind that has them
  { suffix: ['conditions'], mergeKey: 'type' },
  // Per kind
  { suffix: ['status', 'podIPs'], mergeKey: 'ip', kinds: ['Pod'] },
  { suffix: ['status', 'hostIPs'], mergeKey: 'ip', kinds: ['Pod'] },
  { suffix: ['spec', 'ports'], mergeKey: 'port', kinds: ['Service'] },
  { suffix: ['secrets'], mergeKey: 'name', kinds: ['ServiceAccount'] },
  { suffix: ['status', 'addresses'], mergeKey: 'type', kinds: ['Node'] },
  { suffix: ['spec', 'podCIDRs'], kinds: ['Node'] },
];

/** Where the merge is: the field names from the root (list positions left out) and the object's kind. */
interface Scope {
  readonly path: readonly string[];
  readonly kind: string;
}

function child(scope: Scope, field: string): Scope {
  return { path: [...scope.path, field], kind: scope.kind };
}

function mergeListAt(scope: Scope): MergeList | undefined {
  return MERGE_LISTS.find(
    (list) =>
      (list.kinds === undefined || list.kinds.includes(scope.kind)) &&
      list.suffix.length <= scope.path.length &&
      list.suffix.every((name, i) => scope.path[scope.path.length - list.suffix.length + i] === name),
  );
}

/**
 * Applies a Kubernetes strategic merge patch to a built-in object, as kube-apiserver does (apimachinery's
 * `strategicpatch.StrategicMergeMapPatch`). Returns a new object; neither argument is modified.
 *
 * - Maps merge recursively; `null` deletes a key; scalars and atomic lists are replaced.
 * - Lists with `patchStrategy:"merge"` merge element by element on their merge key: `containers`,
 *   `initContainers`, `ephemeralContainers`, `volumes`, `imagePullSecrets`, `env` and `schedulingGates` by
 *   `name`, container `ports` by `containerPort`, `volumeMounts` by `mountPath`, `volumeDevices` by
 *   `devicePath`, `hostAliases` by `ip`, `topologySpreadConstraints` by `topologyKey`,
 *   `metadata.ownerReferences` by `uid`, `conditions` by `type`; for `kind` Service its `spec.ports` by `port`,
 *   for Pod `status.podIPs`/`hostIPs` by `ip`, for Node `status.addresses` by `type`, for ServiceAccount
 *   `secrets` by `name`. `metadata.finalizers` (and a Node's `spec.podCIDRs`) merge as sets of scalars. Every
 *   other list (`tolerations`, `args`, `command`, ...) is atomic. Lists are recognised by their field names,
 *   with the parent field where a name is ambiguous and `kind` where the kind decides.
 * - The merged list is ordered as kube orders it: patched elements in patch order, the others in their
 *   previous order, interleaved by their previous positions.
 * - Directives: `$patch: replace` (a map, or a list element, makes the patch's value replace) and
 *   `$patch: delete` (a map becomes `{}`; a list element deletes the elements with its merge key),
 *   `$retainKeys` (drops the keys of the map not listed), `$deleteFromPrimitiveList/<field>` (removes values
 *   from a list of scalars) and `$setElementOrder/<field>` (orders a merging list).
 *
 * Malformed directives and elements without their merge key are 400s with kube's wording; a list of lists in a
 * merging list is kube's 422.
 *
 * @param target - the stored object.
 * @param patch - the decoded strategic merge patch.
 * @param kind - the object's kind; selects the per-kind merge lists listed above.
 * @returns the patched object.
 * @throws PatchError when a directive or a merging list is malformed.
 */
export function applyStrategicMergePatch(target: JsonObject, patch: JsonObject, kind: string): JsonObject {
  return mergeMap(cloneJson(target), cloneJson(patch), { path: [], kind });
}

// The functions below work on private copies: they modify `original` and consume `patch` freely.

function mergeMap(original: JsonObject, patch: JsonObject, scope: Scope): JsonObject {
  if (Object.hasOwn(patch, DIRECTIVE)) return mapDirective(patch, scope);
  applyRetainKeys(original, patch);
  applySetElementOrder(original, patch, scope);
  const deletions: Array<[string, JsonValue]> = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) deletions.push([key, value]);
    else if (value === null) delete original[key];
    else setOwn(original, key, mergeValue(own(original, key), value, child(scope, key)));
  }
  for (const [key, value] of deletions) deleteFromPrimitiveList(original, key, value);
  return original;
}

function mapDirective(patch: JsonObject, scope: Scope): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive === 'delete') return {};
  if (directive !== 'replace') throw badRequest(badPatchType(directive, patch));
  delete patch[DIRECTIVE];
  return mergeMap({}, patch, scope);
}

function mergeValue(original: JsonValue | undefined, patch: JsonValue, scope: Scope): JsonValue {
  if (isObject(patch)) return mergeMap(isObject(original) ? original : {}, patch, scope);
  if (!Array.isArray(patch)) return patch;
  const list = mergeListAt(scope);
  if (list === undefined) return patch.map((item) => (isObject(item) ? mergeMap({}, item, scope) : item));
  return mergeSlice(Array.isArray(original) ? original : [], patch, list.mergeKey, scope);
}

function mergeSlice(
  original: JsonValue[],
  patch: JsonValue[],
  mergeKey: string | undefined,
  scope: Scope,
): JsonValue[] {
  if (original.length === 0 && patch.length === 0) return [];
  if (elementKind(original, patch) === 'scalar') {
    const merged = [...original, ...patch].filter(
      (item, i, all) => all.findIndex((x) => jsonEqual(x, item)) === i,
    );
    return ordered(merged, patch, original, undefined);
  }
  if (mergeKey === undefined) throw badRequest('cannot merge lists without merge key for type struct');
  const elements = patch.filter(isObject);
  const special = withSpecialElements(original, elements, mergeKey, scope);
  const merged = mergeByKey(special.original, special.patch, mergeKey, scope);
  return ordered(merged, special.patch, special.original, mergeKey);
}

function elementKind(original: JsonValue[], patch: JsonValue[]): 'map' | 'scalar' {
  let seen: string | undefined;
  for (const item of [...original, ...patch]) {
    const type = Array.isArray(item) ? 'array' : item === null ? 'null' : typeof item;
    if (seen === undefined && type === 'array') {
      throw new PatchError('Invalid', REJECTED, 'lists of lists are not supported');
    }
    if (seen !== undefined && type !== seen) {
      throw badRequest(`list element types are not identical: ${goFormat([original, patch])}`);
    }
    seen = type;
  }
  return seen === 'object' ? 'map' : 'scalar';
}

/** Applies the list elements carrying `$patch`: deletes by merge key, or makes the rest replace the list. */
function withSpecialElements(
  original: JsonValue[],
  patch: JsonObject[],
  mergeKey: string,
  scope: Scope,
): { original: JsonValue[]; patch: JsonObject[] } {
  const rest: JsonObject[] = [];
  let current = original;
  let replace = false;
  for (const element of patch) {
    if (!Object.hasOwn(element, DIRECTIVE)) {
      rest.push(element);
      continue;
    }
    const directive = element[DIRECTIVE];
    if (directive === 'delete') {
      const value = keyOf(element, mergeKey);
      current = current.filter((item) => !jsonEqual(existingKeyOf(item, mergeKey, current), value));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw badRequest('merging lists cannot yet be specified in the patch');
    } else {
      throw badRequest(badPatchType(directive, element));
    }
  }
  if (replace) return { original: rest.map((element) => mergeMap({}, element, scope)), patch: [] };
  return { original: current, patch: rest };
}

function mergeByKey(original: JsonValue[], patch: JsonObject[], mergeKey: string, scope: Scope): JsonValue[] {
  const merged = [...original];
  for (const element of patch) {
    const value = keyOf(element, mergeKey);
    const index = merged.findIndex((item) => jsonEqual(existingKeyOf(item, mergeKey, merged), value));
    const existing = merged[index];
    if (isObject(existing)) merged[index] = mergeMap(existing, element, scope);
    else merged.push(mergeMap({}, element, scope));
  }
  return merged;
}

/**
 * kube's order for a merged list: the elements named in `order` sorted as there, the others as they were in
 * `previous`, the two interleaved by their positions in `previous`.
 */
function ordered(
  merged: JsonValue[],
  order: JsonValue[],
  previous: JsonValue[],
  mergeKey: string | undefined,
): JsonValue[] {
  if (merged.length === 0) return merged;
  const named = (item: JsonValue): boolean => indexIn(order, keyOf(item, mergeKey), mergeKey) >= 0;
  const fromPatch = sortedBy(merged.filter(named), order, mergeKey);
  const serverOnly = sortedBy(
    merged.filter((item) => !named(item)),
    previous,
    mergeKey,
  );
  const result: JsonValue[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length && j < fromPatch.length) {
    const left = serverOnly[i] ?? null;
    const right = fromPatch[j] ?? null;
    const li = indexIn(previous, keyOf(left, mergeKey), mergeKey);
    const ri = indexIn(previous, keyOf(right, mergeKey), mergeKey);
    if (li >= 0 && ri >= 0 && li < ri) {
      result.push(left);
      i++;
    } else {
      result.push(right);
      j++;
    }
  }
  return [...result, ...serverOnly.slice(i), ...fromPatch.slice(j)];
}

function sortedBy(items: JsonValue[], order: JsonValue[], mergeKey: string | undefined): JsonValue[] {
  for (const item of order) keyOf(item, mergeKey);
  return items
    .map((item, at) => {
      const index = indexIn(order, keyOf(item, mergeKey), mergeKey);
      return { item, at, index: index < 0 ? Number.POSITIVE_INFINITY : index };
    })
    .sort((a, b) => a.index - b.index || a.at - b.at)
    .map(({ item }) => item);
}

/** The position of the element whose identity (merge key value, or the scalar itself) is `identity`. */
function indexIn(list: JsonValue[], identity: JsonValue, mergeKey: string | undefined): number {
  return list.findIndex((item) => {
    if (mergeKey === undefined) return jsonEqual(item, identity);
    return isObject(item) && Object.hasOwn(item, mergeKey) && jsonEqual(item[mergeKey], identity);
  });
}

/** An element's identity: the value of its merge key, or the element itself in a list of scalars. */
function keyOf(item: JsonValue, mergeKey: string | undefined): JsonValue {
  if (mergeKey === undefined) return item;
  if (!isObject(item)) throw badRequest(`expected a map, but received a ${goTypeName(item)}`);
  const value = own(item, mergeKey);
  if (value === undefined)
    throw badRequest(`map: ${goFormat(item)} does not contain declared merge key: ${mergeKey}`);
  return value;
}

/** The merge key value of a stored element (undefined when it has none), refusing a list that is not of maps. */
function existingKeyOf(item: JsonValue, mergeKey: string, list: JsonValue[]): JsonValue | undefined {
  if (!isObject(item)) throw badRequest(`value for key ${list.indexOf(item)} is not a map.`);
  return own(item, mergeKey);
}

function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain)) throw badRequest(BAD_RETAIN_KEYS);
  for (const [key, value] of Object.entries(patch)) {
    const directive = key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER);
    if (value !== null && !directive && !retain.includes(key)) throw badRequest(BAD_RETAIN_KEYS);
  }
  for (const key of Object.keys(original)) {
    if (!retain.includes(key)) delete original[key];
  }
}

/**
 * Applies every `$setElementOrder/<field>`: merges the field's patch list (if any) and orders the result by the
 * directive's list. Ignored on atomic lists, where the patch's list is the result anyway.
 */
function applySetElementOrder(original: JsonObject, patch: JsonObject, scope: Scope): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    const field = directiveField(key, SET_ELEMENT_ORDER, BAD_SET_ELEMENT_ORDER);
    const list = mergeListAt(child(scope, field));
    if (!Array.isArray(order)) throw badRequest(BAD_SET_ELEMENT_ORDER);
    const previous = listField(original, field);
    const patchList = listField(patch, field);
    if (list === undefined || (previous === undefined && patchList === undefined)) continue;
    validateOrder(patchList ?? [], order, list.mergeKey);
    const merged =
      patchList === undefined
        ? previous
        : mergeSlice(previous ?? [], patchList, list.mergeKey, child(scope, field));
    setOwn(original, field, ordered(merged ?? [], order, previous ?? [], list.mergeKey));
    delete patch[field];
  }
}

function listField(object: JsonObject, field: string): JsonValue[] | undefined {
  const value = own(object, field);
  if (value === undefined) return undefined;
  if (!Array.isArray(value))
    throw badRequest(`expected a []interface {}, but received a ${goTypeName(value)}`);
  return value;
}

/** The patch list must name its elements in the order `$setElementOrder` gives (elements being deleted aside). */
function validateOrder(patchList: JsonValue[], order: JsonValue[], mergeKey: string | undefined): void {
  const items = patchList.filter((item) => !(isObject(item) && Object.hasOwn(item, DIRECTIVE)));
  let p = 0;
  for (const entry of order) {
    const item = items[p];
    if (item === undefined) return;
    if (jsonEqual(keyOf(item, mergeKey), keyOf(entry, mergeKey))) p++;
  }
  if (p < items.length) {
    throw badRequest(
      `The order in patch list:\n${goFormat(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goFormat(order)}\n`,
    );
  }
}

function deleteFromPrimitiveList(original: JsonObject, key: string, values: JsonValue): void {
  const field = directiveField(key, DELETE_FROM_PRIMITIVE_LIST, BAD_PRIMITIVE_LIST);
  if (!Array.isArray(values)) throw badRequest(BAD_PRIMITIVE_LIST);
  const current = own(original, field);
  if (!Array.isArray(current)) return;
  setOwn(
    original,
    field,
    current.filter((item) => !values.some((value) => jsonEqual(value, item))),
  );
}

/** The field a `$directive/<field>` key is about. */
function directiveField(key: string, prefix: string, malformed: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) throw badRequest(malformed);
  return key.slice(slash + 1);
}

function badPatchType(directive: JsonValue | undefined, map: JsonObject): string {
  return `unknown patch type: ${goFormat(directive ?? null)} in map: ${goFormat(map)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

function badRequest(message: string): PatchError {
  return new PatchError('BadRequest', message);
}

function rejected(detail: string): PatchError {
  return new PatchError('Invalid', REJECTED, detail);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `object[key]` when it is the object's own member (never something inherited such as `constructor`). */
function own(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Sets a member as data, so that a key such as `__proto__` is a plain member and never a prototype change. */
function setOwn(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
}

function cloneJson<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => jsonEqual(a[key], own(b, key)));
}

/** The name Go's encoding/json gives a JSON value's type in its errors. */
function goTypeName(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

/** A value as Go's `%v` prints the decoded JSON (`map[a:1 b:[x y]]`), for messages worded as kube's. */
function goFormat(value: JsonValue): string {
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`;
  if (isObject(value)) {
    const members = Object.keys(value)
      .sort()
      .map((key) => `${key}:${goFormat(value[key] ?? null)}`);
    return `map[${members.join(' ')}]`;
  }
  return String(value);
}
