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
import type { PruneRegistry } from './registry.js';
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

/** Watches removed layer links and restores those a push needs again. */
export class LinkRestorer {
  /** Repository → removed blob digest → until when it is watched (ms) and who removed it. */
  readonly #removed = new Map<string, Map<string, { until: number; origin: string | undefined }>>();
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
    for (const digests of this.#removed.values()) count += digests.size;
    return count;
  }

  /**
   * A layer link was removed: watch it, and check at once (a push may already have landed).
   *
   * @param origin Who removed it (a run id, say); handed back in the result of a restore.
   * @returns When the first check is done.
   */
  removed(repository: string, digest: string, origin?: string): Promise<void> {
    const until = Date.now() + (this.options.windowMs ?? 10 * 60_000);
    let digests = this.#removed.get(repository);
    if (digests === undefined) {
      digests = new Map();
      this.#removed.set(repository, digests);
    }
    digests.set(digest, { until, origin });
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
    const digests = this.#removed.get(repository);
    if (digests === undefined) return;
    const now = Date.now();
    for (const [digest, { until }] of digests) if (until < now) digests.delete(digest);
    if (digests.size === 0) {
      this.#removed.delete(repository);
      return;
    }
    const { view } = this.options;
    const [namespace = '', name = ''] = repository.split('/');
    try {
      await catchUpRepository(view, namespace, name);
    } catch {
      // A later history change, or the next removal in this repository, checks again.
      return;
    }
    const needs = view.index.repositoryNeeds(namespace, name);
    for (const [digest, { origin }] of [...digests]) {
      if (!needs.blobs.has(digest)) continue;
      digests.delete(digest);
      const result = await this.#restore(repository, digest);
      this.options.onRestore?.(origin === undefined ? result : { ...result, origin });
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
    const removedFrom = (candidate: string): boolean => this.#removed.get(candidate)?.has(digest) === true;
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
