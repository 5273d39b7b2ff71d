// The npm packages as users get them: `npm pack` of each published workspace (core, cli, openshift-sim and
// testkit, which openshift-sim runs on), installed from the tarballs into an empty directory with nothing
// else but what the registry serves for their dependencies. Then, as a user would: import
// @registry-push/core from ESM, type-check a file against its types with tsc, run `npx registry-push
// --version` and `npx openshift-sim start` (stopped again by the PID of the process group this test made).
// The tarballs hold no tests, benchmarks or source maps, and their sizes are printed (see the README).
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeWorkDir, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);

/** Runs a program to its end with no standard input (npm waits on an open one); rejects on failure. */
async function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; maxBuffer?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const child = execFileAsync(file, args, { maxBuffer: 64 << 20, ...options });
  child.child.stdin?.end();
  return child;
}
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The published workspaces, and the files each tarball must have. */
const PUBLISHED = {
  '@registry-push/core': ['dist/index.js', 'dist/index.d.ts', 'dist/push-entry.js', 'dist/push-entry.d.ts'],
  '@registry-push/cli': ['bin/registry-push.js', 'dist/cli.js', 'dist/index.d.ts'],
  '@registry-push/openshift-sim': [
    'bin/openshift-sim.js',
    'dist/cli.js',
    'dist/index.d.ts',
    'crds',
    'proto/LICENSE',
    'proto/go-fields.json',
    'proto/k8s.io/api/core/v1/generated.proto',
  ],
  '@registry-push/testkit': ['dist/index.js', 'dist/index.d.ts'],
} as const;
type Published = keyof typeof PUBLISHED;

interface PackResult {
  name: Published;
  version: string;
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

interface PackageJson {
  version: string;
  private?: boolean;
  license?: string;
  engines?: { node?: string };
  repository?: { type: string; url: string; directory: string };
  files?: string[];
  exports?: Record<string, { types: string; default: string }>;
  publishConfig?: { access?: string; provenance?: boolean };
}

let work: string;
let packs: PackResult[];
let app: string;
/** Node 24 of the repository first on PATH: the packages need Node 22 or newer. */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = await makeWorkDir('packages-install');
  const tarballs = join(work, 'tarballs');
  await mkdir(tarballs);
  const { stdout } = await run(
    'npm',
    [
      'pack',
      '--json',
      '--pack-destination',
      tarballs,
      ...Object.keys(PUBLISHED).flatMap((name) => ['-w', name]),
    ],
    { cwd: root, maxBuffer: 64 << 20 },
  );
  packs = JSON.parse(stdout) as PackResult[];
  // An empty project that depends on nothing but the four tarballs (and @types/node for the type check).
  app = join(work, 'app');
  await mkdir(app);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2),
  );
  // This environment (npm's cache and settings, the machine's CA for reaching the registry), with Node 24.
  env = {
    ...process.env,
    PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
  };
  const started = Date.now();
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      // A registry that cannot be reached (or whose certificate is not trusted) fails in seconds, not after
      // npm's default backoff of minutes per package.
      '--fetch-retries=1',
      '--fetch-retry-mintimeout=2000',
      '--fetch-retry-maxtimeout=5000',
      ...packs.map((pack) => join(tarballs, pack.filename)),
      '@types/node@24',
    ],
    { cwd: app, env, maxBuffer: 64 << 20 },
  );
  process.stdout.write(`npm install of the four tarballs: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  // npm fetches the dependencies' metadata from the registry: about 5 s from a cold cache. It once took
  // minutes, then hung past ten: turbo's strict environment had dropped NODE_EXTRA_CA_CERTS, and every
  // request to a registry behind a TLS-inspecting proxy failed and was retried (turbo.json passes it now).
}, 300_000);

afterAll(async () => {
  if (work !== undefined) await removeWorkDir(work);
});

describe('the npm tarballs', () => {
  it('are one per published package, at the workspace version, and their sizes are printed', () => {
    expect(packs.map((pack) => pack.name).sort()).toEqual(Object.keys(PUBLISHED).sort());
    const rows = packs.map(
      (pack) =>
        `${pack.name.padEnd(30)} ${(pack.size / 1024).toFixed(0).padStart(5)} KiB packed ${(pack.unpackedSize / 1024).toFixed(0).padStart(6)} KiB unpacked ${String(pack.entryCount).padStart(4)} files`,
    );
    process.stdout.write(`${rows.join('\n')}\n`);
    for (const pack of packs) expect(pack.size).toBeLessThan(1 << 20);
  });

  it.each(Object.keys(PUBLISHED) as Published[])(
    '%s holds what it needs and no tests, benchmarks or maps',
    (name) => {
      const pack = packs.find((p) => p.name === name)!;
      const files = pack.files.map((file) => file.path);
      for (const needed of ['package.json', 'README.md', 'CHANGELOG.md', ...PUBLISHED[name]]) {
        expect(
          files.some((file) => file === needed || file.startsWith(`${needed}/`)),
          `${name}: ${needed}`,
        ).toBe(true);
      }
      const stray = files.filter((file) =>
        /(^|\/)(test|tests|bench|__tests__|src)\/|\.(test|spec|bench)\.[cm]?[jt]s$|\.map$|\.tsbuildinfo$/.test(
          file,
        ),
      );
      expect(stray).toEqual([]);
    },
  );

  it.each(Object.keys(PUBLISHED) as Published[])('%s declares what npm and users read', (name) => {
    const file = join(root, 'packages', name.replace('@registry-push/', ''), 'package.json');
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
    expect(pkg.private).toBeUndefined();
    expect(pkg.license).toBe('Apache-2.0');
    expect(pkg.engines?.node).toBe('>=22');
    expect(pkg.repository?.type).toBe('git');
    expect(pkg.repository?.url).toMatch(/^git\+https:\/\/.+\.git$/);
    expect(pkg.repository?.directory).toBe(name.replace('@registry-push/', 'packages/'));
    expect(pkg.publishConfig).toEqual({ access: 'public', provenance: true });
    for (const [entry, target] of Object.entries(pkg.exports ?? {})) {
      expect(Object.keys(target), `${name} export ${entry}`).toEqual(['types', 'default']);
      expect(target.types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
      expect(target.default).toMatch(/^\.\/dist\/.*\.js$/);
    }
  });
});

describe('installed from the tarballs', () => {
  it('imports @registry-push/core and its light /push entry from ESM, and nothing deeper', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import * as core from '@registry-push/core';
         import * as push from '@registry-push/core/push';
         const error = new core.RegistryPushError('OPTION_INVALID', 'x.');
         let deep = 'allowed';
         try { await import('@registry-push/core/dist/index.js'); } catch (e) { deep = e.code; }
         console.log(JSON.stringify({ core: typeof core.parseReference, push: typeof push.redact, code: error.code, deep }));`,
      ],
      { cwd: app, env },
    );
    expect(JSON.parse(stdout)).toEqual({
      core: 'function',
      push: 'function',
      code: 'OPTION_INVALID',
      deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it('type-checks a consumer against the published types with tsc', async () => {
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          strict: true,
          noEmit: true,
          // As \`tsc --init\` writes it. Without it, @kubernetes/client-node's types (through isomorphic-ws)
          // also need @types/ws installed.
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    const good = `import { RegistryPushError, formatError, parseReference, type ErrorCode } from '@registry-push/core';
import { redact } from '@registry-push/core/push';
const code: ErrorCode = 'OPTION_INVALID';
const line: string = formatError(new RegistryPushError(code, 'x.'));
const host: string = parseReference('example.test/p/app:v1').host;
const safe: string = redact('token-value', ['token-value']);
export { line, host, safe };
`;
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await writeFile(join(app, 'consumer.ts'), good);
    const clean = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, env }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(clean).toBe('');
    // The types are real: a code outside the union and a wrong property are refused.
    await writeFile(
      join(app, 'consumer.ts'),
      `${good}const bad = new RegistryPushError('NOT_A_CODE', 'x.');\nconst no: number = parseReference('a/b').host;\nexport { bad, no };\n`,
    );
    const failure = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, env }).then(
      () => undefined,
      (error: { stdout: string }) => error.stdout,
    );
    expect(failure).toMatch(/"NOT_A_CODE"/);
    expect(failure).toMatch(/Type 'string' is not assignable to type 'number'/);
  });

  it('npx registry-push --version prints the version', async () => {
    const { stdout } = await run('npx', ['--no-install', 'registry-push', '--version'], { cwd: app, env });
    const cli = packs.find((pack) => pack.name === '@registry-push/cli')!;
    expect(stdout.trim()).toBe(cli.version);
  });

  it('npx openshift-sim start runs a cluster kubectl can use, and stops on SIGTERM', async () => {
    const dir = join(work, 'sim');
    // Its own process group, so the SIGTERM reaches the simulator under npx and the shell npm starts.
    const child = spawn(
      'npx',
      ['--no-install', 'openshift-sim', 'start', '--dir', dir, '--router-mode', 'port'],
      { cwd: app, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close' comes once every process holding its output has ended: npx, npm's shell and the simulator.
    const exited = once(child, 'close');
    try {
      const [line] = (await Promise.race([
        once(createInterface({ input: child.stdout }), 'line'),
        exited.then(() => {
          throw new Error(`openshift-sim exited before it was ready: ${stderr}`);
        }),
      ])) as [string];
      const cluster = JSON.parse(line) as { kubeconfig: string; routerMode: string };
      expect(cluster.routerMode).toBe('port');
      const { stdout } = await run(
        'kubectl',
        ['--kubeconfig', cluster.kubeconfig, 'get', 'namespace', 'demo', '-o', 'name'],
        { env },
      );
      expect(stdout.trim()).toBe('namespace/demo');
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
    await exited;
    expect(stderr).toMatch(/SIGTERM, stopping/);
    // Nothing of the group is left (the simulator stops its registry and router before it exits).
    const left = (): string =>
      readdirSync('/proc')
        .filter((pid) => /^\d+$/.test(pid))
        .filter((pid) => {
          try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
            return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2] === String(child.pid);
          } catch {
            return false;
          }
        })
        .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '))
        .join('\n');
    for (let i = 0; i < 50 && left() !== ''; i++) await new Promise((r) => setTimeout(r, 200));
    expect(left()).toBe('');
  });
});
