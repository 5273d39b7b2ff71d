// Pushes during confirmed full prunes, as CI jobs make them: images that re-use the layers of images being
// pruned, pushed while the worker deletes their links and blobs. Whatever a push wrote must pull afterwards,
// byte for byte, with its blobs in storage and its layers linked in its repository; a push in the moment
// between a delete's decision and its call gets its layer link put back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '@registry-push/testkit';
import { killAll, runCli, WorkerSet, type CliResult, type WorkerProcess } from './support/processes.js';
import { root, startWorld, type World } from './support/world.js';

let world: World;
const workers = new WorkerSet();
const worker = (name: string, env: Record<string, string>): WorkerProcess => workers.start(name, env);

/** The blobs of an image other than its manifest: config and layers. */
function blobsOf(image: BuiltImage): string[] {
  const manifest = image.manifests[0]!;
  return [manifest.config.digest, ...manifest.layers.map((layer) => layer.digest)];
}

/** What a CI job does: push, and try again (up to three times) when the push fails. */
async function pushWithRetries(
  image: BuiltImage,
  ref: string,
): Promise<{ pushed: boolean; failures: number }> {
  let failures = 0;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await world.push(image, ref);
      return { pushed: true, failures };
    } catch {
      failures++;
    }
  }
  return { pushed: false, failures };
}

/** Every pushed image pulls exactly, its blobs are stored, and its repository links each of its layers. */
async function expectIntact(namespace: string, pushed: { image: BuiltImage; tag: string }[]): Promise<void> {
  for (const { image, tag } of pushed) {
    expect(await world.pullDiff(`${namespace}/app:${tag}`, image), `${namespace}/app:${tag}`).toEqual([]);
    for (const blob of blobsOf(image)) {
      expect(await world.blobExists(blob), `blob ${blob} of ${tag}`).toBe(true);
      expect(await world.linkExists(namespace, 'app', blob), `link ${blob} of ${tag}`).toBe(true);
    }
  }
}

describe.runIf(root)('pushes during confirmed full prunes', () => {
  beforeAll(async () => {
    world = await startWorld(['heal', 'race-0', 'race-1', 'race-2']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  });

  afterEach(() => workers.stopAll('SIGTERM'));

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('puts back a layer link that a push needed in the moment between the decision and the delete', async () => {
    // An old build whose first layer link (in the order the unit deletes them) is a layer, not its config:
    // the failpoint holds that delete, decided before the push, until the push has landed.
    let old: BuiltImage | undefined;
    let oldSeed = '';
    for (let n = 0; old === undefined; n++) {
      oldSeed = `heal-old-${n}`;
      const candidate = await world.build(oldSeed, oldSeed, 2);
      const first = blobsOf(candidate).sort()[0];
      if (first !== candidate.manifests[0]!.config.digest) old = candidate;
    }
    await world.push(old, 'heal/app:latest');
    const current = await world.build('heal-new', 'heal-new', 1);
    await world.push(current, 'heal/app:latest');
    const env = world.env({ PRUNER_FAILPOINT: 'layer-link-delete:6000' });
    const w = worker('heal', env);
    await w.port();
    const run = runCli(['enqueue', '--confirm', '--wait'], env, 120_000);
    await w.waitForLog((line) => line.msg === 'failpoint reached', 60_000);
    // A rebuild that changed only metadata: the old build's layers under a new config.
    const rebuilt = await world.build('heal-rebuilt', oldSeed, 2, 'hotfix');
    await world.push(rebuilt, 'heal/app:hotfix');
    const result: CliResult = await run;
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const restore = await w.waitForLog((line) => line.msg === 'a push needed a removed layer link again');
    expect(restore).toMatchObject({ outcome: 'restored', repository: 'heal/app' });
    expect(blobsOf(rebuilt)).toContain(restore['digest']);
    await expectIntact('heal', [{ image: rebuilt, tag: 'hotfix' }]);
    expect(await world.history('heal', 'app')).toEqual({
      latest: [current.digest],
      hotfix: [rebuilt.digest],
    });
    // The old build went: its Image, its manifest and its config (which the rebuild does not use).
    expect(await world.imageExists(old.digest)).toBe(false);
    expect(await world.blobExists(old.manifests[0]!.config.digest)).toBe(false);
    // The run's record counts the restores, whenever they came.
    const status = await runCli(['status', '--output', 'json'], env);
    const runs = (JSON.parse(status.stdout) as { runs: { progress?: { linksRestored: number } }[] }).runs;
    expect(runs[0]?.progress?.linksRestored).toBeGreaterThan(0);
    const port = await w.port();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Every link the push needed that went after it landed came back (one or more, as the deletes interleave).
    expect(metrics).toMatch(/registry_pruner_layer_link_restores_total\{outcome="restored"\} [1-9]/);
    expect(metrics).not.toMatch(/registry_pruner_layer_link_restores_total\{outcome="(failed|no-source)"\}/);
  }, 180_000);

  // Slow registry calls (the rate limiter holding decided deletes was how the race was first found), a pause
  // before the first delete, and the defaults.
  const scenarios: { name: string; env: Record<string, string> }[] = [
    { name: 'registry and API at 3 calls/s', env: { PRUNER_REGISTRY_RATE: '3', PRUNER_API_RATE: '3' } },
    {
      name: 'a 3 s pause before the first registry delete',
      env: { PRUNER_FAILPOINT: 'registry-delete:3000' },
    },
    { name: 'the default rates', env: {} },
  ];
  scenarios.forEach((scenario, index) => {
    it(`every pushed image pulls exactly: ${scenario.name}`, async () => {
      const namespace = `race-${index}`;
      const old: BuiltImage[] = [];
      const seedOf = (k: number): string => `${namespace}-old-${k}`;
      for (let k = 0; k < 3; k++) {
        const image = await world.build(seedOf(k), seedOf(k), 2);
        await world.push(image, `${namespace}/app:latest`);
        old.push(image);
      }
      const current = await world.build(`${namespace}-current`, `${namespace}-current`, 1);
      await world.push(current, `${namespace}/app:latest`);
      const env = world.env(scenario.env);
      const w = worker(`race-${index}`, env);
      await w.port();
      let over = false;
      const run = runCli(['enqueue', '--confirm', '--wait'], env, 240_000).finally(() => (over = true));
      // CI jobs pushing rebuilds of the builds being pruned, one after the other, until the run is over.
      const pushed: { image: BuiltImage; tag: string }[] = [];
      let failures = 0;
      for (let round = 0; round < 2 && (round === 0 || !over); round++) {
        for (const k of old.keys()) {
          const rebuilt = await world.build(`${namespace}-fix-${round}-${k}`, seedOf(k), 2, `fix-${round}`);
          const tag = `fix-${round}-${k}`;
          const outcome = await pushWithRetries(rebuilt, `${namespace}/app:${tag}`);
          failures += outcome.failures;
          if (outcome.pushed) pushed.push({ image: rebuilt, tag });
        }
      }
      const result = await run;
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(pushed.length).toBeGreaterThan(0);
      await expectIntact(namespace, pushed);
      // The old builds' own manifests and configs are gone; the current one stays.
      for (const image of old) expect(await world.imageExists(image.digest)).toBe(false);
      expect(await world.pullDiff(`${namespace}/app:latest`, current)).toEqual([]);
      // Reported, not asserted: a push that only checked a blob before its delete fails and is retried.
      console.log(
        `${scenario.name}: ${pushed.length} pushes landed, ${failures} attempt(s) failed and were retried`,
      );
    }, 300_000);
  });
});
