/**
 * Puts back a layer link that a prune removed when a push needs it again. A layer link is removed only when
 * no Image in the repository's history uses the blob at that moment, but a push can land in the moment
 * between that decision and the delete (its manifest accepted while the link was still there, its Image and
 * history item written just after). The restorer remembers each removed link for a while; right after the
 * delete, and whenever the view shows the repository's history naming new images, it checks whether the
 * history needs a removed link again, and if so mounts the blob back from a repository that has it.
 */
import { RegistryPushError } from '../errors.js';
import { systemErrorCode } from '../system-errors.js';
import type { PruneRegistry } from './registry-port.js';
import { catchUpRepository, type PruneView } from './view.js';

/** What became of one link that a push needed again. */
export interface LinkRestoreResult {
  repository: string;
  digest: string;
  /** `restored`: mounted back from `from`; `no-source`: no other repository has it; `failed`: see `error`. */
  outcome: 'restored' | 'no-source' | 'failed';
  from?: string;
  error?: { code: string; message: string };
  at: string;
  /** What {@link LinkRestorer.removed} was told removed the link (a run id, say). */
  origin?: string;
}

/** Options of {@link LinkRestorer}. */
export interface LinkRestorerOptions {
  view: PruneView;
  /** Where links are mounted back; without `restoreLayerLink` every restore is `failed`. */
  registry: Pick<PruneRegistry, 'restoreLayerLink'>;
  /** How long a removed link is watched (default 10 minutes). */
  windowMs?: number;
  /** Told of every restore attempted. */
  onRestore?: (result: LinkRestoreResult) => void;
  /** Other repositories tried as the mount source (default 3). */
  sources?: number;
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof RegistryPushError) return { code: error.code, message: error.message };
  return {
    code: systemErrorCode(error) ?? 'UNEXPECTED',
    message: error instanceof Error ? error.message : String(error),
  };
}

/**
 * The links one remover took out of one repository: blob (see {@link keyOf}) → until when it is watched,
 * in ms after the restorer started (a small integer for the first 12 days of a worker, not a boxed number).
 * A run at 100k Images removes about 265k links, all watched for the window: as plain entries (a digest
 * string, an object, a boxed time) they took about 47 MiB of the worker's heap, as 32-byte keys and
 * small-integer times about 24.
 */
interface Removals {
  origin: string | undefined;
  blobs: Map<string, number>;
}

const SHA256 = /^sha256:([0-9a-f]{64})$/;
/** Marks a key that holds a digest as written (no latin1 key has a character above 0xff). */
const WHOLE = String.fromCharCode(0x100);

/** A sha256 digest as its 32 bytes in a one-byte string; any other digest as written, marked. */
function keyOf(digest: string): string {
  const hex = SHA256.exec(digest)?.[1];
  return hex === undefined ? WHOLE + digest : Buffer.from(hex, 'hex').toString('latin1');
}

function digestOf(key: string): string {
  return key.startsWith(WHOLE) ? key.slice(1) : `sha256:${Buffer.from(key, 'latin1').toString('hex')}`;
}

/** Watches removed layer links and restores those a push needs again. */
export class LinkRestorer {
  /** Repository → the links taken out of it, by remover. */
  readonly #removed = new Map<string, Removals[]>();
  readonly #epoch = Date.now();
  readonly #unsubscribe: () => void;
  readonly #pending = new Set<Promise<void>>();
  #stopped = false;

  constructor(private readonly options: LinkRestorerOptions) {
    this.#unsubscribe = options.view.onHistoryAdded(({ namespace, name }) => {
      void this.#schedule(`${namespace}/${name}`);
    });
  }

  /** Links watched now. */
  get watching(): number {
    let count = 0;
    for (const groups of this.#removed.values()) for (const group of groups) count += group.blobs.size;
    return count;
  }

  /**
   * A layer link was removed: watch it, and check at once (a push may already have landed).
   *
   * @param origin Who removed it (a run id, say); handed back in the result of a restore.
   * @returns When the first check is done.
   */
  removed(repository: string, digest: string, origin?: string): Promise<void> {
    const until = Date.now() + (this.options.windowMs ?? 10 * 60_000) - this.#epoch;
    let groups = this.#removed.get(repository);
    if (groups === undefined) {
      groups = [];
      this.#removed.set(repository, groups);
    }
    let group = groups.find((candidate) => candidate.origin === origin);
    if (group === undefined) {
      group = { origin, blobs: new Map() };
      groups.push(group);
    }
    group.blobs.set(keyOf(digest), until);
    return this.#schedule(repository);
  }

  /** Stops listening; waits for restores in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe();
    await Promise.allSettled([...this.#pending]);
  }

  #schedule(repository: string): Promise<void> {
    if (this.#stopped || !this.#removed.has(repository)) return Promise.resolve();
    const task = this.#check(repository).finally(() => this.#pending.delete(task));
    this.#pending.add(task);
    return task;
  }

  async #check(repository: string): Promise<void> {
    const groups = this.#removed.get(repository);
    if (groups === undefined) return;
    const now = Date.now() - this.#epoch;
    for (const group of groups)
      for (const [key, until] of group.blobs) if (until < now) group.blobs.delete(key);
    const left = groups.filter((group) => group.blobs.size > 0);
    if (left.length === 0) {
      this.#removed.delete(repository);
      return;
    }
    this.#removed.set(repository, left);
    const { view } = this.options;
    const [namespace = '', name = ''] = repository.split('/');
    try {
      await catchUpRepository(view, namespace, name);
    } catch {
      // A later history change, or the next removal in this repository, checks again.
      return;
    }
    const needs = view.index.repositoryNeeds(namespace, name);
    for (const group of left) {
      for (const key of [...group.blobs.keys()]) {
        const digest = digestOf(key);
        if (!needs.blobs.has(digest)) continue;
        group.blobs.delete(key);
        const result = await this.#restore(repository, digest);
        const { origin } = group;
        this.options.onRestore?.(origin === undefined ? result : { ...result, origin });
      }
    }
  }

  async #restore(repository: string, digest: string): Promise<LinkRestoreResult> {
    const at = (): string => new Date().toISOString();
    const { registry } = this.options;
    if (registry.restoreLayerLink === undefined) {
      return {
        repository,
        digest,
        outcome: 'failed',
        error: { code: 'UNSUPPORTED', message: 'This registry port cannot restore links.' },
        at: at(),
      };
    }
    const key = keyOf(digest);
    const removedFrom = (candidate: string): boolean =>
      this.#removed.get(candidate)?.some((group) => group.blobs.has(key)) === true;
    const sources = this.options.view.index
      .repositoriesNeeding(digest)
      .filter((candidate) => candidate !== repository)
      // Repositories whose link this run did not remove first.
      .sort((a, b) => Number(removedFrom(a)) - Number(removedFrom(b)))
      .slice(0, this.options.sources ?? 3);
    // Last, the repository itself: its history now names the blob, which the OpenShift registry accepts as
    // access to it (it serves such a blob without a link, and mounts it).
    sources.push(repository);
    let lastError: { code: string; message: string } | undefined;
    for (const from of sources) {
      try {
        if (await registry.restoreLayerLink(repository, digest, from)) {
          return { repository, digest, outcome: 'restored', from, at: at() };
        }
      } catch (error) {
        lastError = errorOf(error);
      }
    }
    if (lastError !== undefined) return { repository, digest, outcome: 'failed', error: lastError, at: at() };
    return { repository, digest, outcome: 'no-source', at: at() };
  }
}
