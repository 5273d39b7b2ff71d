// The mode check before each unit's registry deletes, against the simulator: answered from a watch of the
// registry operator's config while the watch is open (no request per unit), following a managementState
// change within moments, and read from the API again whenever the watch is not open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, RegistryNames, Resources, type KubeObject } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { ModeWatch } from '../src/mode-watch.js';

let cluster: RunningCluster;
let admin: ClusterClient;

beforeAll(async () => {
  cluster = await startCluster({});
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** The admin client, counting its reads of single objects. */
function countingClient(): { client: ClusterClient; reads: () => number } {
  let reads = 0;
  const client = new Proxy(admin, {
    get(target, property, receiver): unknown {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (property === 'get' || property === 'find') reads++;
        return method.apply(target, args);
      };
    },
  });
  return { client, reads: () => reads };
}

async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const setState = (state: string): Promise<unknown> =>
  admin.mergePatch<KubeObject>(Resources.registryConfig, RegistryNames.operatorConfig, {
    spec: { managementState: state },
  });

describe('the mode watch', () => {
  it('answers from the watch while it is open, follows a managementState change, and reads when it is not', async () => {
    const { client, reads } = countingClient();
    const watch = new ModeWatch(client, 'auto');
    try {
      // Before the watch is open, each question reads the config.
      expect(await watch.current()).toBe('full');
      expect(reads()).toBe(1);
      watch.start();
      await until(async () => {
        const before = reads();
        await watch.current();
        return reads() === before;
      }, 'the watch answers');
      const settled = reads();
      for (let i = 0; i < 50; i++) expect(await watch.current()).toBe('full');
      expect(reads()).toBe(settled);

      await setState('Unmanaged');
      await until(async () => (await watch.current()) === 'metadata', 'the watch sees Unmanaged', 5_000);
      await setState('Removed');
      await until(async () => (await watch.current()) === 'metadata', 'the watch sees Removed', 5_000);
      await setState('Managed');
      await until(async () => (await watch.current()) === 'full', 'the watch sees Managed', 5_000);
      expect(reads()).toBe(settled);

      await watch.stop();
      await setState('Unmanaged');
      expect(await watch.current()).toBe('metadata');
      expect(reads()).toBe(settled + 1);
    } finally {
      await watch.stop();
      await setState('Managed');
    }
  });

  it('watches nothing when the mode is forced', async () => {
    const { client, reads } = countingClient();
    const watch = new ModeWatch(client, 'metadata');
    watch.start();
    expect(await watch.current()).toBe('metadata');
    await watch.stop();
    expect(reads()).toBe(0);
  });
});
