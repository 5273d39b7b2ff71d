// /etc/hosts entries that make route hosts resolve to this simulator's router, as DNS would on a cluster.
// Each simulator owns the lines tagged with its id and rewrites only those, under a lock file, so several
// simulators on one machine can add and remove their hosts without losing each other's (or the system's).
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const MARKER = '# openshift-sim';

/** The lines of one simulator in a hosts file. */
export class HostsFile {
  private lastHosts: string[] = [];

  constructor(
    private readonly id: string,
    private readonly address: string,
    private readonly path = '/etc/hosts',
  ) {}

  private tag(): string {
    return `${MARKER} ${this.id}`;
  }

  private async withLock<T>(work: () => T): Promise<T> {
    const lock = `${this.path}.openshift-sim.lock`;
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx', 0o600));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A lock left by a killed simulator is stale after a few seconds.
        try {
          if (Date.now() - statSync(lock).mtimeMs > 10_000) unlinkSync(lock);
        } catch {
          // gone meanwhile
        }
        if (Date.now() > deadline) {
          throw new Error(`could not lock ${this.path} (held by another openshift-sim)`, { cause: err });
        }
        await sleep(20);
      }
    }
    try {
      return work();
    } finally {
      unlinkSync(lock);
    }
  }

  private rewrite(hosts: readonly string[]): void {
    const kept = readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((line) => !line.endsWith(this.tag()));
    while (kept.length > 0 && kept.at(-1) === '') kept.pop();
    const ours = hosts.map((host) => `${this.address} ${host} ${this.tag()}`);
    // Written in place: /etc/hosts is often a bind mount that cannot be replaced by a rename.
    writeFileSync(this.path, `${[...kept, ...ours].join('\n')}\n`);
  }

  /** Makes exactly these hosts resolve to the router (no change when they already do). */
  async set(hosts: readonly string[]): Promise<void> {
    const sorted = [...new Set(hosts)].sort();
    if (sorted.join(' ') === this.lastHosts.join(' ')) return;
    await this.withLock(() => this.rewrite(sorted));
    this.lastHosts = sorted;
  }

  /** Removes this simulator's lines. */
  async clear(): Promise<void> {
    await this.withLock(() => this.rewrite([]));
    this.lastHosts = [];
  }

  /** Removes this simulator's lines without waiting (for process exit). */
  clearNow(): void {
    try {
      this.rewrite([]);
    } catch {
      // best effort at exit
    }
  }

  /** Loopback addresses other simulators already use in this hosts file. */
  static addressesInUse(path = '/etc/hosts'): Set<string> {
    const used = new Set<string>();
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.includes(MARKER)) used.add(line.split(/\s+/)[0] ?? '');
    }
    return used;
  }
}
