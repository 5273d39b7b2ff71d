// The generic registry: create, read, list, update, patch and delete with kube-apiserver's rules for
// resourceVersion, generation, status subresources, finalizers, validation and paging. RBAC is checked
// by the HTTP layer before it calls in; operators call in directly as a privileged component.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  cloneJson,
  isJsonObject,
  jsonEqual,
  objectAt,
  stringAt,
  textOf,
  type JsonObject,
  type JsonValue,
  type ReadonlyJsonObject,
} from '../json.js';
import { nameProblem } from './names.js';
import { kindGoType, objectMetaGoType } from './go-types.js';
import { applyPatch, type PatchType } from './patch.js';
import { storeKey } from './resources.js';
import { goValueText, unknownField, unknownFields, type UnknownFieldOrder } from './strict-decoding.js';
import { prepareObject } from './schema.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError, errors, qualifiedResource, successStatus, type StatusCause } from './status.js';
import type { ObjectStore } from './store.js';
import { apiVersionOf, type RequestContext, type ResourceType } from './types.js';

/**
 * The order of a patched object's unknown fields: kube's merge and JSON patches give a body Go wrote from
 * maps (keys sorted), a strategic merge goes through the unstructured converter (struct order).
 */
const PATCHED_ORDER: Record<PatchType, UnknownFieldOrder> = {
  merge: 'sorted',
  json: 'sorted',
  strategic: 'struct',
};

/**
 * A custom resource's `metadata` fields that ObjectMeta lacks, dropped: apiextensions decodes metadata into
 * ObjectMeta strictly, from JSON Go wrote from a map (keys sorted), and names them `metadata.<path>`.
 */
function customResourceUnknownFields(object: JsonObject): string[] {
  const metadata = object['metadata'];
  if (!isJsonObject(metadata)) return [];
  return unknownFields(metadata, objectMetaGoType(), 'sorted', true).map((path) =>
    unknownField(`metadata.${path}`),
  );
}

/** JSON with every object's keys sorted, as Go's encoder writes a map. */
function sortedJsonText(value: JsonValue): string {
  return JSON.stringify(value, (_key, inner: JsonValue) =>
    isJsonObject(inner)
      ? Object.fromEntries(
          Object.keys(inner)
            .sort()
            .map((key) => [key, inner[key]]),
        )
      : inner,
  );
}

/** How unknown fields in a request body are treated (the `fieldValidation` query parameter). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Options of a write request. */
export interface WriteOptions {
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
  /**
   * When the write is a PATCH: the value a strict refusal quotes (the patched object, or the patch), made
   * only when needed (writing a large object out on every patch would cost).
   */
  patch?: () => string;
  /**
   * What kube's strict decoder names in the body as sent (`duplicate field "data.k"`, and for a built-in
   * kind `unknown field "spec.x"`), in its order; see `strict-decoding.ts`. For a PATCH, what it names in
   * the patch (`json patch …` for a JSON patch). Absent (an object from code, or protobuf): the unknown
   * fields the object has, in its order.
   */
  decodingErrors?: readonly string[];
}

/** A write's result plus the `Warning` headers kube would send. */
export interface WriteResult {
  object: JsonObject;
  warnings: string[];
  created?: boolean;
}

/**
 * Which part of an object a write may change: the main resource (status kept), `status` (spec kept), or
 * `spec+status`, one internal write of both that only server components make (an ImageStreamTag delete).
 */
export type Subresource = 'status' | 'spec+status' | undefined;

/** The object a write addresses: its kind, namespace (ignored for a cluster-scoped kind) and name. */
export interface ObjectTarget {
  type: ResourceType;
  namespace: string;
  name: string;
}

/** How an update or patch is asked for: on the main resource (default) or a subresource, dry run or not. */
export interface WriteHow {
  subresource?: Subresource;
  options?: WriteOptions;
}

/** A DELETE's preconditions: the object must still have this uid and resourceVersion. */
export interface Preconditions {
  uid?: string;
  resourceVersion?: string;
}

/** Query of a list request. */
export interface ListOptions {
  labelSelector?: string | null;
  fieldSelector?: string | null;
  limit?: number;
  continueToken?: string | null;
}

interface ContinueToken {
  rv: number;
  start: string;
}

function metadataOf(object: JsonObject): JsonObject {
  const metadata = objectAt(object, 'metadata');
  if (metadata) return metadata;
  const fresh: JsonObject = {};
  object['metadata'] = fresh;
  return fresh;
}

function labelsOf(object: JsonObject): Record<string, string> {
  const labels = objectAt(metadataOf(object), 'labels') ?? {};
  return Object.fromEntries(
    Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** Everything but metadata and status: what `metadata.generation` tracks. */
function specPart(object: JsonObject): JsonObject {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return rest;
}

function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeContinue(text: string): ContinueToken {
  try {
    const bytes = Buffer.from(text, 'base64url');
    // Node's decoder skips what it cannot read; a real server refuses a token it did not issue, even one
    // with a single character added.
    if (bytes.toString('base64url') !== text) throw new Error('not a token this server issued');
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (isJsonObject(value) && typeof value['rv'] === 'number' && typeof value['start'] === 'string') {
      return { rv: value['rv'], start: value['start'] };
    }
  } catch {
    // fall through
  }
  throw errors.badRequest(
    'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
  );
}

/** The generic registry over one {@link ObjectStore}. */
export class ResourceService {
  constructor(private readonly store: ObjectStore) {}

  private target(
    type: ResourceType,
    name?: string,
  ): { group: string; resource: string; name?: string; kind: string } {
    return {
      group: type.group,
      resource: type.plural,
      // kube's Invalid message names the group-qualified kind (`Config.imageregistry.operator.openshift.io`).
      kind: type.group === '' ? type.kind : `${type.kind}.${type.group}`,
      ...(name !== undefined ? { name } : {}),
    };
  }

  private requireNamespace(type: ResourceType, namespace: string): void {
    if (!type.namespaced) return;
    if (!this.store.get('namespaces', '', namespace)) {
      throw errors.notFound({ group: '', resource: 'namespaces', name: namespace });
    }
  }

  /** Reads one object (decorated as on a real read) or throws 404. */
  get(type: ResourceType, namespace: string, name: string, ctx: RequestContext): JsonObject {
    const object = this.store.get(storeKey(type), type.namespaced ? namespace : '', name);
    if (!object) throw errors.notFound(this.target(type, name));
    type.strategy?.decorate?.(object, ctx);
    return object;
  }

  /** Reads one object or returns undefined. */
  find(type: ResourceType, namespace: string, name: string, ctx: RequestContext): JsonObject | undefined {
    const object = this.store.get(storeKey(type), type.namespaced ? namespace : '', name);
    if (object) type.strategy?.decorate?.(object, ctx);
    return object;
  }

  /** The stored object itself (not copied, not decorated; see {@link ObjectStore.peek}), or undefined. */
  peek(type: ResourceType, namespace: string, name: string): ReadonlyJsonObject | undefined {
    return this.store.peek(storeKey(type), type.namespaced ? namespace : '', name);
  }

  /**
   * A status write by a server component that built the new status from `current` (what {@link peek}
   * returned) by sharing its unchanged parts: validated like any status write, stored without copying. The
   * new status must already be normalised (sorted, generations filled), as prepareStatusUpdate would.
   */
  writeSharedStatus(
    type: ResourceType,
    { namespace, name }: { namespace: string; name: string },
    current: ReadonlyJsonObject,
    status: JsonObject,
    ctx: RequestContext,
  ): void {
    const ns = type.namespaced ? namespace : '';
    if (this.store.peek(storeKey(type), ns, name) !== current) throw errors.conflict(this.target(type, name));
    // Only read from here on: validation does not change objects, and the store takes `next` as it is.
    const old = current as JsonObject;
    const next: JsonObject = { ...old, status };
    const causes = type.strategy?.validate?.(next, old, { ...ctx, namespace: ns }) ?? [];
    if (causes.length > 0) throw errors.invalid(this.target(type, name), causes);
    this.store.replaceShared(storeKey(type), ns, name, next);
  }

  /** Where a list starts: the store now, or a continue token's revision and key (410 once compacted away). */
  private continuePoint(continueToken: ListOptions['continueToken']): { revision: number; start: string } {
    if (!continueToken) return { revision: this.store.currentRevision, start: '' };
    const token = decodeContinue(continueToken);
    if (token.rv < this.store.compactedAt) {
      throw errors.gone(
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
      );
    }
    return { revision: token.rv, start: token.start };
  }

  /** A `<Kind>List` honouring selectors and `limit`/`continue` paging. */
  list(
    type: ResourceType,
    namespace: string | undefined,
    options: ListOptions,
    ctx: RequestContext,
  ): JsonObject {
    const matches = selectorMatcher(type, options, ctx);
    const { revision, start } = this.continuePoint(options.continueToken);
    // Walk the keys in order from the continue point, copying only the objects that are looked at.
    const resource = storeKey(type);
    const keys = this.store.sortedKeys(resource);
    const range = keyRange(keys, type.namespaced ? namespace : undefined, start);
    const end = range.end;
    let index = range.start;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Infinity;
    const page: JsonObject[] = [];
    let more = false;
    for (; index < end; index++) {
      const object = this.store.getByKey(resource, keys[index] ?? '');
      if (object === undefined || !matches(object)) continue;
      if (page.length === limit) {
        more = true;
        break;
      }
      page.push(object);
    }
    const listMeta: JsonObject = { resourceVersion: String(revision) };
    const last = page.at(-1);
    if (more && last) {
      listMeta['continue'] = encodeContinue({ rv: revision, start: storeKeyOf(last) });
      // kube counts the rest only when no selector filtered the list (then every key left is an item).
      if (!options.labelSelector && !options.fieldSelector) {
        listMeta['remainingItemCount'] = end - index;
      }
    }
    return { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: listMeta, items: page };
  }

  private checkBodyIdentity(type: ResourceType, object: JsonObject): void {
    const apiVersion = object['apiVersion'];
    const kind = object['kind'];
    if (apiVersion !== undefined && apiVersion !== apiVersionOf(type)) {
      throw errors.badRequest(
        `the API version in the data (${textOf(apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
      );
    }
    if (kind !== undefined && kind !== type.kind) {
      throw errors.badRequest(
        `the kind in the data (${textOf(kind)}) does not match the expected kind (${type.kind})`,
      );
    }
    object['apiVersion'] = apiVersionOf(type);
    object['kind'] = type.kind;
  }

  private checkNamespace(type: ResourceType, object: JsonObject, namespace: string): void {
    const metadata = metadataOf(object);
    if (!type.namespaced) {
      delete metadata['namespace'];
      return;
    }
    const given = stringAt(metadata, 'namespace');
    if (given !== undefined && given !== '' && given !== namespace) {
      throw errors.badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    metadata['namespace'] = namespace;
  }

  /** Schema pruning/defaulting/validation and the strategy's own checks; throws 422 with every cause. */
  private admit(
    type: ResourceType,
    object: JsonObject,
    old: JsonObject | undefined,
    options: WriteOptions,
    ctx: RequestContext,
  ): { object: JsonObject; warnings: string[] } {
    const causes: StatusCause[] = [];
    const warnings: string[] = [];
    const name = stringAt(metadataOf(object), 'name') ?? '';
    const problem = nameProblem(name, type.nameRule);
    if (old === undefined && problem !== undefined) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": ${problem}`,
        field: 'metadata.name',
      });
    }
    let admitted = object;
    const problems = [...(options.decodingErrors ?? [])];
    if (type.schema) {
      const prepared = prepareObject(type.schema, object, old);
      admitted = prepared.object;
      causes.push(...prepared.result.causes);
      // As apiextensions: the decoder's errors, then metadata's unknown fields, then the pruned ones.
      problems.push(
        ...customResourceUnknownFields(admitted),
        ...prepared.result.unknownFields.map(unknownField),
      );
    } else {
      const goType = type.builtin ? kindGoType(type.group, type.version, type.kind) : undefined;
      // Decoding into the Go type drops what it lacks; the body's walk has named them already.
      const dropped = goType === undefined ? [] : unknownFields(admitted, goType, 'document', true);
      if (options.decodingErrors === undefined) problems.push(...dropped.map(unknownField));
    }
    if (problems.length > 0) warnings.push(...this.fieldProblemWarnings(type, problems, options));
    causes.push(...(type.strategy?.validate?.(admitted, old, ctx) ?? []));
    if (causes.length > 0) throw errors.invalid(this.target(type, name), causes);
    return { object: admitted, warnings };
  }

  /**
   * kube decodes a body before it looks at anything else: under `Strict`, what its decoder named in the
   * body (or, for a PATCH, in the patch and the patched object) refuses the write at once. A custom
   * resource's decoder also prunes, which {@link admit} does: its refusal waits for the whole list.
   */
  private refuseUndecodable(type: ResourceType, options: WriteOptions): void {
    const found = options.decodingErrors ?? [];
    if (options.fieldValidation !== 'Strict' || found.length === 0 || type.schema !== undefined) return;
    this.fieldProblemWarnings(type, found, options);
  }

  /**
   * What kube does with fields the kind does not have (already dropped from the object) and keys sent
   * twice, in the order its decoder named them: `Strict` refuses
   * the write, a body as undecodable (400, the decoder's wording) and a patch, once applied, as an invalid
   * patch (422 on the field `patch`); `Warn` (the default) names each in a `Warning` header; `Ignore` says
   * nothing.
   */
  private fieldProblemWarnings(
    type: ResourceType,
    problems: readonly string[],
    options: WriteOptions,
  ): string[] {
    const mode = options.fieldValidation ?? 'Warn';
    if (mode === 'Ignore') return [];
    if (mode === 'Warn') return [...problems];
    const strict = `strict decoding error: ${problems.join(', ')}`;
    if (options.patch === undefined) {
      throw errors.badRequest(
        `${type.kind} in version ${JSON.stringify(type.version)} cannot be handled as a ${type.kind}: ${strict}`,
      );
    }
    // kube's patcher answers field.Invalid(field.NewPath("patch"), …) of an empty kind and name.
    const detail = `Invalid value: ${JSON.stringify(options.patch())}: ${strict}`;
    throw new ApiError(422, 'Invalid', ` "" is invalid: patch: ${detail}`, {
      causes: [{ reason: 'FieldValueInvalid', message: detail, field: 'patch' }],
    });
  }

  /** The name of a new object: the one given, or one made from `generateName`; 422 when neither is. */
  private nameOnCreate(type: ResourceType, metadata: JsonObject): string {
    const generateName = stringAt(metadata, 'generateName');
    if ((stringAt(metadata, 'name') ?? '') === '' && generateName !== undefined && generateName !== '') {
      metadata['name'] = `${generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    }
    const name = stringAt(metadata, 'name') ?? '';
    if (name === '') {
      throw errors.invalid(this.target(type, ''), [
        { reason: 'FieldValueRequired', message: 'name or generateName is required', field: 'metadata.name' },
      ]);
    }
    return name;
  }

  /** POST: create a new object. */
  create(
    type: ResourceType,
    namespace: string,
    body: JsonObject,
    options: WriteOptions,
    ctx: RequestContext,
  ): WriteResult {
    this.refuseUndecodable(type, options);
    const object = cloneJson(body);
    this.checkBodyIdentity(type, object);
    this.checkNamespace(type, object, namespace);
    const metadata = metadataOf(object);
    const name = this.nameOnCreate(type, metadata);
    this.requireNamespace(type, namespace);
    resetServerFieldsOnCreate(type, metadata);
    // Status is the controllers' to write: a create never takes it from the client.
    if (type.statusSubresource) delete object['status'];
    type.strategy?.prepareCreate?.(object, { ...ctx, namespace });
    const { object: admitted, warnings } = this.admit(type, object, undefined, options, {
      ...ctx,
      namespace,
    });
    const ns = type.namespaced ? namespace : '';
    if (this.store.get(storeKey(type), ns, name)) throw errors.alreadyExists(this.target(type, name));
    // A dry run goes through the same decorator as a real write (kube's generic store decorates both).
    if (options.dryRun) {
      // What the store would assign, as a real server's dry run shows it (nothing is stored).
      const meta = metadataOf(admitted);
      meta['uid'] ??= randomUUID();
      meta['creationTimestamp'] ??= nowSeconds();
      type.strategy?.decorate?.(admitted, ctx);
      return { object: admitted, warnings, created: true };
    }
    const stored = this.store.create(storeKey(type), ns, name, admitted);
    type.strategy?.decorate?.(stored, ctx);
    return { object: stored, warnings, created: true };
  }

  /** PUT on the main resource or on `/status`. */
  update(target: ObjectTarget, body: JsonObject, ctx: RequestContext, how: WriteHow = {}): WriteResult {
    const { type, namespace, name } = target;
    const { subresource, options = {} } = how;
    this.refuseUndecodable(type, options);
    const ns = type.namespaced ? namespace : '';
    const old = this.store.get(storeKey(type), ns, name);
    if (!old) throw errors.notFound(this.target(type, name));
    const object = cloneJson(body);
    this.checkBodyIdentity(type, object);
    this.checkNamespace(type, object, namespace);
    const metadata = metadataOf(object);
    const bodyName = stringAt(metadata, 'name');
    if (bodyName !== undefined && bodyName !== name) {
      throw errors.badRequest(
        `the name of the object (${bodyName}) does not match the name on the URL (${name})`,
      );
    }
    metadata['name'] = name;
    const oldMeta = metadataOf(old);
    const rv = stringAt(metadata, 'resourceVersion');
    if (rv === undefined || rv === '') {
      if (type.requireResourceVersion) {
        // The generic store's wording, which names the resource rather than the kind.
        throw errors.invalid(
          { ...this.target(type, name), kind: qualifiedResource(this.target(type, name)) },
          [
            {
              reason: 'FieldValueInvalid',
              message: 'Invalid value: 0x0: must be specified for an update',
              field: 'metadata.resourceVersion',
            },
          ],
        );
      }
    } else if (rv !== oldMeta['resourceVersion']) {
      throw errors.conflict(this.target(type, name));
    }
    return this.writeUpdate({ type, ns, name, old, object, subresource, options, ctx });
  }

  /** The shared second half of PUT and PATCH: admit the new object and store it (or find nothing changed). */
  private writeUpdate(write: UpdateWrite): WriteResult {
    const { type, ns, name, old, object, options, ctx } = write;
    const oldMeta = metadataOf(old);
    keepServerFields(oldMeta, metadataOf(object));
    const { object: admitted, warnings } =
      write.subresource === 'status' ? this.prepareStatusWrite(write) : this.prepareMainWrite(write);
    const admittedMeta = metadataOf(admitted);
    admittedMeta['resourceVersion'] = oldMeta['resourceVersion'] ?? null;
    if (jsonEqual(admitted, old)) {
      type.strategy?.decorate?.(old, ctx);
      return { object: old, warnings };
    }
    if (options.dryRun) {
      type.strategy?.decorate?.(admitted, ctx);
      return { object: admitted, warnings };
    }
    if (isFinishedDeleting(admittedMeta)) {
      const removed = this.store.remove(storeKey(type), ns, name) ?? admitted;
      return { object: removed, warnings };
    }
    const stored = this.store.replace(storeKey(type), ns, name, admitted);
    type.strategy?.decorate?.(stored, ctx);
    return { object: stored, warnings };
  }

  /** A `/status` write takes only the status from the body; everything else stays as stored. */
  private prepareStatusWrite(write: UpdateWrite): { object: JsonObject; warnings: string[] } {
    const { type, ns, old, object, options, ctx } = write;
    const rctx = { ...ctx, namespace: ns };
    const next = { ...cloneJson(old), status: object['status'] ?? {} };
    type.strategy?.prepareStatusUpdate?.(next, old, rctx);
    return this.admit(type, next, old, options, rctx);
  }

  /**
   * A write of the main resource: the stored status kept (unless `spec+status`), and the generation bumped
   * only when the spec changed.
   */
  private prepareMainWrite(write: UpdateWrite): { object: JsonObject; warnings: string[] } {
    const { type, ns, old, object, subresource, options, ctx } = write;
    const rctx = { ...ctx, namespace: ns };
    if (type.statusSubresource && subresource !== 'spec+status') {
      if (old['status'] === undefined) delete object['status'];
      else object['status'] = cloneJson(old['status']);
    }
    this.checkFinalizers(type, object, old);
    const attempt = (generation: number | undefined): { object: JsonObject; warnings: string[] } => {
      const next = cloneJson(object);
      if (generation === undefined) delete metadataOf(next)['generation'];
      else metadataOf(next)['generation'] = generation;
      type.strategy?.prepareUpdate?.(next, old, rctx);
      if (subresource === 'spec+status') type.strategy?.prepareStatusUpdate?.(next, old, rctx);
      return this.admit(type, next, old, options, rctx);
    };
    // Compared after pruning, defaulting and normalising, as kube decodes before it compares: a write that
    // only restates defaults or sends pruned fields is a no-op and keeps the generation.
    const oldGeneration = metadataOf(old)['generation'];
    const generation = typeof oldGeneration === 'number' ? oldGeneration : undefined;
    const prepared = attempt(generation);
    if (type.hasGeneration && !jsonEqual(specPart(prepared.object), specPart(old))) {
      return attempt((generation ?? 1) + 1);
    }
    return prepared;
  }

  /** Once deletion has started, finalizers can only be removed. */
  private checkFinalizers(type: ResourceType, object: JsonObject, old: JsonObject): void {
    const oldMeta = metadataOf(old);
    if (oldMeta['deletionTimestamp'] === undefined) return;
    const before = Array.isArray(oldMeta['finalizers']) ? oldMeta['finalizers'] : [];
    const after = metadataOf(object)['finalizers'];
    if (Array.isArray(after) && after.some((f) => !before.includes(f))) {
      throw errors.invalid(this.target(type, stringAt(oldMeta, 'name') ?? ''), [
        {
          reason: 'FieldValueForbidden',
          message: 'Forbidden: no new finalizers can be added if the object is being deleted',
          field: 'metadata.finalizers',
        },
      ]);
    }
  }

  /** PATCH: apply the patch to the current object, then update as a PUT would. */
  patch(
    target: ObjectTarget,
    change: { type: PatchType; body: Buffer },
    ctx: RequestContext,
    how: WriteHow = {},
  ): WriteResult {
    const { type, namespace, name } = target;
    const { subresource, options = {} } = how;
    const { type: patchType, body } = change;
    const ns = type.namespaced ? namespace : '';
    const old = this.store.get(storeKey(type), ns, name);
    if (!old) throw errors.notFound(this.target(type, name));
    const patched = applyPatch(patchType, cloneJson(old), body, type.kind);
    // What a strict refusal quotes, as kube's patcher does: the patched object for a merge or JSON patch
    // (before the strategy touches it, as Go writes it from a map), for a strategic merge the patch as Go
    // prints its map. Only Strict quotes it; a copy, as the write goes on to change the patched object.
    const strict = options.fieldValidation === 'Strict';
    const quoted = !strict
      ? null
      : patchType === 'strategic'
        ? (JSON.parse(body.toString('utf8')) as JsonValue)
        : cloneJson(patched);
    const patch = (): string => (patchType === 'strategic' ? goValueText(quoted) : sortedJsonText(quoted));
    // kube decodes the patched object again: a built-in kind's unknown fields follow the patch's own errors.
    const goType =
      type.schema === undefined && type.builtin ? kindGoType(type.group, type.version, type.kind) : undefined;
    const patchErrors = options.decodingErrors ?? [];
    const decodingErrors =
      goType === undefined
        ? patchErrors
        : [...patchErrors, ...unknownFields(patched, goType, PATCHED_ORDER[patchType]).map(unknownField)];
    const patchOptions = { ...options, patch, decodingErrors };
    this.refuseUndecodable(type, patchOptions);
    const rv = stringAt(metadataOf(patched), 'resourceVersion');
    // A resourceVersion inside the patch is a precondition, as in kube.
    if (rv !== undefined && rv !== '' && rv !== metadataOf(old)['resourceVersion']) {
      throw errors.conflict(this.target(type, name));
    }
    this.checkBodyIdentity(type, patched);
    const patchedName = stringAt(metadataOf(patched), 'name');
    if (patchedName !== name) {
      throw errors.badRequest(
        `the name of the object (${String(patchedName)}) does not match the name on the URL (${name})`,
      );
    }
    return this.writeUpdate({
      type,
      ns,
      name,
      old,
      object: patched,
      subresource,
      options: patchOptions,
      ctx,
    });
  }

  /** A DELETE's uid and resourceVersion preconditions: 409 with kube's wording when one does not hold. */
  private checkPreconditions(
    type: ResourceType,
    name: string,
    meta: JsonObject,
    preconditions: Preconditions,
  ): void {
    if (preconditions.uid !== undefined && preconditions.uid !== meta['uid']) {
      throw errors.conflict(
        this.target(type, name),
        `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${textOf(meta['uid'])}`,
      );
    }
    if (
      preconditions.resourceVersion !== undefined &&
      preconditions.resourceVersion !== meta['resourceVersion']
    ) {
      throw errors.conflict(
        this.target(type, name),
        `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${textOf(meta['resourceVersion'])}`,
      );
    }
  }

  /** DELETE: honours preconditions and finalizers; namespaces take their contents with them. */
  delete(
    target: ObjectTarget,
    ctx: RequestContext,
    how: { preconditions?: Preconditions; options?: WriteOptions } = {},
  ): JsonObject {
    const { type, namespace, name } = target;
    const ns = type.namespaced ? namespace : '';
    const existing = this.store.get(storeKey(type), ns, name);
    if (!existing) throw errors.notFound(this.target(type, name));
    const meta = metadataOf(existing);
    this.checkPreconditions(type, name, meta, how.preconditions ?? {});
    const status = successStatus({
      name,
      group: type.group,
      kind: type.plural,
      uid: textOf(meta['uid']),
    });
    if (how.options?.dryRun === true) return type.deleteReturnsStatus ? status : existing;
    const held = this.holdForFinalizers(type, ns, name, existing);
    if (held !== undefined) return held;
    if (type.plural === 'namespaces' && type.group === '') this.deleteNamespaceContents(name);
    const removed = this.store.remove(storeKey(type), ns, name);
    if (type.deleteReturnsStatus || !removed) return status;
    type.strategy?.decorate?.(removed, ctx);
    return removed;
  }

  /**
   * A finalizer holds the object: the delete only marks it (once) with a deletionTimestamp, and the
   * finalizer's owner removes it later. Undefined when nothing holds it.
   */
  private holdForFinalizers(
    type: ResourceType,
    ns: string,
    name: string,
    existing: JsonObject,
  ): JsonObject | undefined {
    const meta = metadataOf(existing);
    const finalizers = meta['finalizers'];
    if (!Array.isArray(finalizers) || finalizers.length === 0) return undefined;
    if (meta['deletionTimestamp'] !== undefined) return existing;
    meta['deletionTimestamp'] = nowSeconds();
    return this.store.replace(storeKey(type), ns, name, existing);
  }

  /** Everything in a namespace goes with it (kube does this asynchronously; here it is immediate). */
  private deleteNamespaceContents(namespace: string): void {
    for (const key of this.store.resourceKeys()) {
      for (const object of this.store.list(key, namespace)) {
        const name = stringAt(metadataOf(object), 'name');
        if (name !== undefined) this.store.remove(key, namespace, name);
      }
    }
  }

  /** DELETE on a collection, with selectors. */
  deleteCollection(
    type: ResourceType,
    namespace: string | undefined,
    options: ListOptions,
    writeOptions: WriteOptions,
    ctx: RequestContext,
  ): JsonObject {
    const list = this.list(type, namespace, { ...options, limit: 0, continueToken: null }, ctx);
    const items = Array.isArray(list['items']) ? list['items'].filter(isJsonObject) : [];
    const deleted: JsonObject[] = [];
    for (const item of items) {
      const meta = metadataOf(item);
      try {
        this.delete(
          { type, namespace: stringAt(meta, 'namespace') ?? '', name: stringAt(meta, 'name') ?? '' },
          ctx,
          { options: writeOptions },
        );
        deleted.push(item);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    }
    return { ...list, items: deleted };
  }
}

/** Index of the first of the sorted `keys` that is not before `key`. */
function firstAtOrAfter(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((keys[middle] ?? '') < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** One update on its way to the store: the stored object, the new one, and how the write was asked for. */
interface UpdateWrite {
  type: ResourceType;
  /** The namespace as stored: empty for a cluster-scoped kind. */
  ns: string;
  name: string;
  old: JsonObject;
  object: JsonObject;
  subresource: Subresource;
  options: WriteOptions;
  ctx: RequestContext;
}

/** An object whose deletion has started and whose last finalizer is gone leaves the store. */
function isFinishedDeleting(meta: JsonObject): boolean {
  const finalizers = meta['finalizers'];
  return meta['deletionTimestamp'] !== undefined && (!Array.isArray(finalizers) || finalizers.length === 0);
}

/** Now, to the second, as kube writes timestamps. */
function nowSeconds(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The server owns these on update: the client's values are replaced by the stored ones. */
function keepServerFields(oldMeta: JsonObject, metadata: JsonObject): void {
  for (const field of ['uid', 'creationTimestamp', 'deletionTimestamp', 'generation', 'namespace']) {
    if (oldMeta[field] === undefined) delete metadata[field];
    else metadata[field] = oldMeta[field] ?? null;
  }
}

/** The server assigns these on create, whatever the client sent; the generation starts at 1. */
function resetServerFieldsOnCreate(type: ResourceType, metadata: JsonObject): void {
  for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'selfLink']) {
    delete metadata[field];
  }
  if (type.hasGeneration) metadata['generation'] = 1;
  else delete metadata['generation'];
}

/** An object's key in the store's order, `<namespace>/<name>`: what a continue token resumes after. */
function storeKeyOf(o: JsonObject): string {
  return `${stringAt(metadataOf(o), 'namespace') ?? ''}/${stringAt(metadataOf(o), 'name') ?? ''}`;
}

/** The list's label and field selectors as one test of an object. */
function selectorMatcher(
  type: ResourceType,
  options: ListOptions,
  ctx: RequestContext,
): (o: JsonObject) => boolean {
  const labelMatch = parseLabelSelector(options.labelSelector ?? null);
  const fieldNames = [
    'metadata.name',
    ...(type.namespaced ? ['metadata.namespace'] : []),
    ...type.selectableFields,
  ];
  const fieldMatch = parseFieldSelector(options.fieldSelector ?? null, fieldNames);
  return (o: JsonObject): boolean => {
    if (!labelMatch(labelsOf(o))) return false;
    // Fields computed on read are selectable too.
    type.strategy?.decorate?.(o, ctx);
    const meta = metadataOf(o);
    return fieldMatch({
      'metadata.name': stringAt(meta, 'name') ?? '',
      'metadata.namespace': stringAt(meta, 'namespace') ?? '',
      ...(type.strategy?.fields?.(o) ?? {}),
    });
  };
}

/**
 * The indexes of the sorted keys a list walks: those of the namespace (all when none), after `start`.
 * `${namespace}0` is the first key after every `${namespace}/…` ('0' follows '/'); the first key after
 * `start` is the first at or after `start` followed by the smallest character.
 */
function keyRange(
  keys: readonly string[],
  namespace: string | undefined,
  start: string,
): { start: number; end: number } {
  const prefix = namespace !== undefined ? `${namespace}/` : '';
  const end = namespace === undefined ? keys.length : firstAtOrAfter(keys, `${namespace}0`);
  const first = Math.max(
    firstAtOrAfter(keys, prefix),
    start === '' ? 0 : firstAtOrAfter(keys, `${start}\u0000`),
  );
  return { start: first, end };
}
