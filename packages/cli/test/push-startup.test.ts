// What the `registry-push` binary loads for a push: with no token and no cluster access at all it pushes
// anonymously, and must not load the Kubernetes client just to find that out (that import cost more
// start-up time than the rest of a small push). Runs the real bin in a new Node process, with a module
// hook that records every module resolved from @kubernetes/client-node.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  buildOciImage,
  makeWorkDir,
  startRegistry,
  type BuiltImage,
  type RunningRegistry,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/registry-push.js', import.meta.url));
let work: string;
let registry: RunningRegistry;
let image: BuiltImage;
let hook: string;

beforeAll(async () => {
  work = await makeWorkDir('cli-push-startup');
  registry = await startRegistry();
  image = await buildOciImage({
    outDir: join(work, 'image'),
    layers: 1,
    layerSize: 10_000,
    seed: 'startup',
    tag: 'v1',
  });
  hook = join(work, 'hook.mjs');
  await writeFile(
    hook,
    [
      "import { appendFileSync } from 'node:fs';",
      "import { registerHooks } from 'node:module';",
      'registerHooks({',
      '  resolve(specifier, context, next) {',
      '    const resolved = next(specifier, context);',
      "    if (resolved.url.includes('@kubernetes/client-node')) appendFileSync(process.env.LOADED_LOG, resolved.url + '\\n');",
      '    return resolved;',
      '  },',
      '});',
    ].join('\n'),
  );
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

/** Run the bin with HOME=`home` and a clean environment; returns the exit code, stderr, and what loaded. */
async function runBin(
  home: string,
  args: string[],
): Promise<{ code: number; stderr: string; loaded: string }> {
  const log = join(home, 'loaded.log');
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: home, LOADED_LOG: log };
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(hook).href, bin, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit ?? -1, stderr }));
  });
  return { code, stderr, loaded: existsSync(log) ? await readFile(log, 'utf8') : '' };
}

describe('push start-up', () => {
  it('pushes anonymously without loading the Kubernetes client when there is no cluster access', async () => {
    const home = join(work, 'home-empty');
    await mkdir(home);
    const result = await runBin(home, [
      'push',
      '--plain-http',
      `oci:${image.layoutDir}:v1`,
      `${registry.host}/startup/app`,
    ]);
    expect(result.stderr).toMatch(/tagged/);
    expect(result.code).toBe(0);
    expect(result.loaded).toBe('');
  }, 60_000);

  it('pulls and copies without it too (signal handling included)', async () => {
    const home = join(work, 'home-transfer');
    await mkdir(home);
    const pull = await runBin(home, [
      'pull',
      '--plain-http',
      `${registry.host}/startup/app:latest`,
      `oci:${join(home, 'layout')}`,
    ]);
    expect(pull.code).toBe(0);
    expect(pull.loaded).toBe('');
    const copy = await runBin(home, [
      'copy',
      '--plain-http',
      `${registry.host}/startup/app:latest`,
      `${registry.host}/startup/copy:v1`,
    ]);
    expect(copy.code).toBe(0);
    expect(copy.loaded).toBe('');
  }, 60_000);

  it('does load it when a kubeconfig is there to ask for a token (the hook sees it)', async () => {
    const home = join(work, 'home-kube');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), 'not: [a kubeconfig', { mode: 0o600 });
    const result = await runBin(home, [
      'push',
      '--plain-http',
      `oci:${image.layoutDir}:v1`,
      `${registry.host}/startup/kube`,
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/KUBECONFIG_INVALID/);
    expect(result.loaded).not.toBe('');
  }, 60_000);
});
