/**
 * Test hooks (`PRUNER_FAILPOINT`): make a worker stop at a named point of a run, so a test can kill it
 * exactly there, or pause there for a while. `name` hangs for good; `name:ms` pauses that long. Each
 * point fires once per process. Unset in production; nothing else changes when it is set.
 *
 * Points: `plan-stored` (plan saved, flow not yet added), `stream-units-added` (the stream units' jobs
 * added, the images step not yet marked so), `stream-unit` (before a stream unit),
 * `registry-delete` (before the first registry delete of the process is decided), `layer-link-delete`
 * (after the first layer link delete was decided, before its call: the moment a concurrent push can still
 * slip in), `batch-unit` (after the first unit of a batch was recorded), `finalize` (before the summary).
 */
import type { Logger } from './logger.js';

/** The points a run passes. */
export const FAILPOINTS = [
  'plan-stored',
  'stream-units-added',
  'stream-unit',
  'registry-delete',
  'layer-link-delete',
  'batch-unit',
  'finalize',
  'restore-history',
] as const;

/** One of {@link FAILPOINTS}. */
export type FailpointName = (typeof FAILPOINTS)[number];

/** The failpoints of this process. */
export class Failpoints {
  readonly #armed = new Map<string, number | undefined>();

  constructor(
    spec: string | undefined,
    private readonly logger: Logger,
  ) {
    for (const entry of (spec ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [name = '', ms] = entry.split(':');
      if (!(FAILPOINTS as readonly string[]).includes(name)) throw new Error(`unknown failpoint "${name}"`);
      this.#armed.set(name, ms === undefined ? undefined : Number(ms));
    }
  }

  /** Passes the point: returns at once unless it is armed. */
  async hit(name: FailpointName): Promise<void> {
    if (!this.#armed.has(name)) return;
    const ms = this.#armed.get(name);
    this.#armed.delete(name);
    this.logger.warn({ failpoint: name, pauseMs: ms ?? 'forever' }, 'failpoint reached');
    await new Promise<void>((resolve) => {
      if (ms !== undefined) setTimeout(resolve, ms);
    });
  }
}
