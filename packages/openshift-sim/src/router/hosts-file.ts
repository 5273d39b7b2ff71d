// /etc/hosts entries that make route hosts resolve to this simulator's router, as DNS would on a cluster.
// Each simulator owns the lines tagged with its id and rewrites only those, under a lock file, so several
// simulators on one machine can add and remove their hosts without losing each other's (or the system's).
// Lines also name the process that wrote them, so lines left by a simulator that died without cleaning up
// (out of heap, SIGKILL) are removed by the next simulator that writes the file.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const MARKER = '# openshift-sim';

/** A line's owner: ` pid=<pid>` or ` pid=<pid>@<start time>` at the end. */
const OWNER = / pid=(\d+)(@\d+)?$/;

/**
 * `<pid>@<start time>` of a running process (Linux: clock ticks after boot, from /proc), so a PID the system
 * has since given to another process does not pass for the simulator that wrote a line; `<pid>` where /proc
 * is missing; undefined when no such process runs.
 */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces: state is field 3, starttime field 22.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (start !== undefined) return `${pid}@${start}`;
  } catch {
    // no /proc entry: gone, or not Linux
  }
  try {
    process.kill(pid, 0);
    return String(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? String(pid) : undefined;
  }
}

/** A line written by a simulator process that no longer runs. Lines that name no process are kept. */
function isStale(line: string): boolean {
  if (!line.includes(MARKER)) return false;
  const owner = OWNER.exec(line);
  if (!owner) return false;
  const pid = Number(owner[1]);
  if (pid === process.pid) return false;
  const running = processIdentity(pid);
  if (running === undefined) return true;
  return owner[2] !== undefined && running.includes('@') && running !== `${pid}${owner[2]}`;
}

/**
 * The watchdog: a separate Node process that waits until its stdin (a pipe from the simulator) closes, which
 * happens however the simulator ends, even out of heap or by SIGKILL, and then removes the lines ending with
 * its tag (argv: hosts path, tag) under the same lock. Inline source, so it needs no file next to the build.
 */
const WATCHDOG_SOURCE = `
const fs = require('node:fs');
const [path, tag] = process.argv.slice(1);
const lock = path + '.openshift-sim.lock';
const deadline = Date.now() + 10000;
function clean() {
  try {
    fs.closeSync(fs.openSync(lock, 'wx', 0o600));
  } catch (err) {
    if (err.code !== 'EEXIST' || Date.now() > deadline) return;
    try { if (Date.now() - fs.statSync(lock).mtimeMs > 10000) fs.unlinkSync(lock); } catch {}
    setTimeout(clean, 20);
    return;
  }
  try {
    const lines = fs.readFileSync(path, 'utf8').split('\\n');
    const kept = lines.filter((line) => !line.endsWith(tag));
    if (kept.length !== lines.length) fs.writeFileSync(path, kept.join('\\n'));
  } finally {
    fs.unlinkSync(lock);
  }
}
process.stdin.on('data', () => {});
process.stdin.on('close', clean);
`;

/** The lines of one simulator in a hosts file. */
export class HostsFile {
  private lastHosts: string[] = [];
  private written = false;

  constructor(
    private readonly id: string,
    private readonly address: string,
    private readonly path = '/etc/hosts',
    /** The process the lines belong to (this one); see {@link processIdentity}. */
    private readonly owner = processIdentity(process.pid) ?? String(process.pid),
  ) {}

  private tag(): string {
    return `${MARKER} ${this.id} pid=${this.owner}`;
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
      .filter((line) => !line.endsWith(this.tag()) && !isStale(line));
    while (kept.length > 0 && kept.at(-1) === '') kept.pop();
    const ours = hosts.map((host) => `${this.address} ${host} ${this.tag()}`);
    // Written in place: /etc/hosts is often a bind mount that cannot be replaced by a rename.
    writeFileSync(this.path, `${[...kept, ...ours].join('\n')}\n`);
  }

  /** Makes exactly these hosts resolve to the router (no change when they already do). */
  async set(hosts: readonly string[]): Promise<void> {
    const sorted = [...new Set(hosts)].sort();
    // The first call always writes, so a simulator with no routes yet still removes stale lines at start.
    if (this.written && sorted.join(' ') === this.lastHosts.join(' ')) return;
    await this.withLock(() => this.rewrite(sorted));
    this.lastHosts = sorted;
    this.written = true;
  }

  /** Removes this simulator's lines. */
  async clear(): Promise<void> {
    await this.withLock(() => this.rewrite([]));
    this.lastHosts = [];
  }

  /**
   * Starts the watchdog that removes this simulator's lines when the process ends without doing so itself
   * (out of heap, SIGKILL); returns the function that ends it (after a normal {@link clear}).
   */
  startWatchdog(): () => Promise<void> {
    const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, this.path, this.tag()], {
      stdio: ['pipe', 'ignore', 'ignore'],
      // Its own process group: a Ctrl-C to the simulator's group must not end it before it cleans up.
      detached: true,
      env: {},
    });
    // Neither the watchdog nor its pipe keep this process alive.
    watchdog.unref();
    (watchdog.stdin as Socket | null)?.unref();
    watchdog.on('error', () => {
      // No watchdog (no process could be started): the next simulator's start removes stale lines.
    });
    return async () => {
      if (watchdog.exitCode !== null || watchdog.signalCode !== null || watchdog.pid === undefined) return;
      const exited = once(watchdog, 'exit');
      try {
        process.kill(watchdog.pid, 'SIGTERM');
      } catch {
        return; // already gone
      }
      // Waited for, so a stopped simulator leaves no process of its own behind.
      await Promise.race([exited, sleep(10_000)]);
    };
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
