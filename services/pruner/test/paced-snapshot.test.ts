// The snapshot's lists under the API rate: every page waits for its own slot (a paged list of 100k Images is
// hundreds of calls, and the client's proxy-based pacing once let them all through unpaced), and a throttled
// page slows what follows.
import { RegistryPushError, type ListOptions, type SnapshotSource } from '@registry-push/core';
import { describe, expect, it } from 'vitest';
import { AdaptiveRateLimiter, pacedSnapshotSource } from '../src/limiter.js';

/** A source of `pages` pages, each requested only after the caller's beforePage; it records when. */
function pagedSource(pages: number, failAt?: number): SnapshotSource & { requested: number[] } {
  const requested: number[] = [];
  return {
    requested,
    async listPages<T>(_type: unknown, options: ListOptions, onPage: (items: T[]) => void) {
      for (let page = 0; page < pages; page++) {
        await options.beforePage?.();
        requested.push(Date.now());
        if (page === failAt) {
          throw new RegistryPushError(
            'API_ERROR',
            'The API server could not list images right now (HTTP 429).',
            {
              details: { status: 429 },
            },
          );
        }
        onPage([{}] as T[]);
      }
      return pages;
    },
  };
}

const images = { group: 'image.openshift.io', version: 'v1', plural: 'images' } as never;

describe('the paced snapshot source', () => {
  it('gives every page of a list its own slot', async () => {
    const limiter = new AdaptiveRateLimiter({ ratePerSecond: 20, minRatePerSecond: 1 });
    const source = pagedSource(6);
    let seen = 0;
    const count = await pacedSnapshotSource(source, limiter).listPages(images, {}, () => seen++);
    expect([count, seen]).toEqual([6, 6]);
    // Six slots at 20/s: the last page starts at least 5 × 50 ms after the first.
    expect(source.requested.at(-1)! - source.requested[0]!).toBeGreaterThanOrEqual(240);
  });

  it("keeps the caller's own beforePage, and a throttled page lowers the rate", async () => {
    const limiter = new AdaptiveRateLimiter({ ratePerSecond: 20, minRatePerSecond: 1 });
    const source = pagedSource(3, 1);
    let own = 0;
    const paced = pacedSnapshotSource(source, limiter);
    await expect(
      paced.listPages(images, { beforePage: () => Promise.resolve(void own++) }, () => undefined),
    ).rejects.toMatchObject({ code: 'API_ERROR' });
    expect(own).toBe(2);
    expect(limiter.rate).toBeLessThan(20);
  });
});
