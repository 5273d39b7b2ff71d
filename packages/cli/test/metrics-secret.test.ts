// The registry's legacy metrics secret (REGISTRY_OPENSHIFT_METRICS_SECRET): with it set, the registry's
// metrics endpoint takes that secret as the Bearer token or Basic password and refuses every user token.
// `registry-push metrics --metrics-secret-file` sends it, read from a file or stdin (never argv), against
// openshift-sim's registry configured with the secret.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';

const SECRET = 'metrics/Secret+never-printed-0451';

let cluster: RunningCluster;
let scratch: string;

async function run(
  argv: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: { HOME: scratch },
    ...(stdin === undefined ? {} : { readStdin: () => stdin }),
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-metrics-secret-'));
  cluster = await startCluster({
    storage: 'emptyDir',
    managementState: 'Managed',
    routerMode: 'port',
    registryRolloutDelayMs: 100,
    registryMetricsSecret: SECRET,
  });
  await writeFile(join(scratch, 'service-ca.crt'), cluster.serviceCaPem);
  await writeFile(join(scratch, 'metrics-secret'), `${SECRET}\n`, { mode: 0o600 });
  await writeFile(join(scratch, 'wrong-secret'), 'not-the-secret\n', { mode: 0o600 });
  await writeFile(join(scratch, 'empty'), '\n');
});

afterAll(async () => {
  await cluster?.stop();
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe('metrics with the legacy metrics secret', () => {
  const target = (): string[] => [
    '--registry',
    cluster.registryServiceAddress,
    '--ca-file',
    join(scratch, 'service-ca.crt'),
    '--kubeconfig',
    cluster.users.kubeadmin!.kubeconfig,
  ];

  it('reads the metrics with the secret from a file or stdin, as Bearer or Basic password', async () => {
    for (const [args, stdin] of [
      [['--metrics-secret-file', join(scratch, 'metrics-secret')], undefined],
      [['--metrics-secret-file', '-'], `${SECRET}\n`],
      [['--metrics-secret-file', '-', '--basic-auth-user', 'prometheus'], SECRET],
    ] as const) {
      const result = await run(['metrics', ...target(), ...args], stdin);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^imageregistry_http_in_flight_requests 1$/m);
      expect(`${result.stdout}${result.stderr}`).not.toContain(SECRET);
    }
  });

  it('is refused with a user token (even a cluster admin) or a wrong secret, and never prints the secret', async () => {
    const admin = await run(['metrics', ...target()]);
    expect(admin.code).toBe(1);
    expect(admin.stderr).toMatch(/\[METRICS_FORBIDDEN\]/);
    const wrong = await run(['metrics', ...target(), '--metrics-secret-file', join(scratch, 'wrong-secret')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/\[METRICS_FORBIDDEN\]/);
    expect(wrong.stderr).not.toContain('not-the-secret');
  });

  it('says what is wrong with the secret file in one line', async () => {
    const empty = await run(['metrics', ...target(), '--metrics-secret-file', join(scratch, 'empty')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--metrics-secret-file: .*empty is empty/);
    const missing = await run(['metrics', ...target(), '--metrics-secret-file', join(scratch, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--metrics-secret-file: .*nope cannot be read \(ENOENT\)/);
  });
});
