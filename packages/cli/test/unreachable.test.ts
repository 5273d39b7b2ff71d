// An API server that cannot be reached is CLUSTER_UNREACHABLE in every command, and a certificate that does
// not match the given CA is CLUSTER_TLS_UNTRUSTED: one line naming the server and what to check, exit 1,
// no stack trace. The endpoints are real loopback sockets: a closed port, a port where something that does
// not speak TLS listens (undici's failure there used to escape as API_ERROR "Failed to fetch resource
// metadata"), and a TLS server whose certificate another CA issued.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, freePort } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './run.js';

let home: string;
let plain: HttpServer;
let foreignTls: HttpsServer;
let closedUrl: string;
let plainUrl: string;
let tlsUrl: string;
/** A kubeconfig for the TLS server that trusts a CA other than the one that issued its certificate. */
let wrongCaKubeconfig: string;

async function listen(server: HttpServer | HttpsServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'cli-unreachable-'));
  closedUrl = `https://127.0.0.1:${await freePort()}`;
  plain = createHttpServer((_, response) => response.end('not an API server'));
  plainUrl = `https://127.0.0.1:${await listen(plain)}`;
  const issuer = await createCertificateAuthority('issuer CA');
  const other = await createCertificateAuthority('some other CA');
  const leaf = await issuer.issue({ commonName: '127.0.0.1', altNames: ['127.0.0.1'] });
  foreignTls = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_, response) =>
    response.end('{}'),
  );
  tlsUrl = `https://127.0.0.1:${await listen(foreignTls)}`;
  wrongCaKubeconfig = join(home, 'wrong-ca.kubeconfig');
  await writeFile(
    wrongCaKubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: {
            server: tlsUrl,
            'certificate-authority-data': Buffer.from(other.certPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'u', user: { token: 'sha256~unreachable-test' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'demo' } }],
      'current-context': 'x',
    }),
    { mode: 0o600 },
  );
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => plain?.close(resolve));
  await new Promise((resolve) => foreignTls?.close(resolve));
  await rm(home, { recursive: true, force: true });
});

const COMMANDS: Record<string, string[]> = {
  all: ['all', '--namespace', 'demo', '--image', 'app', '--source', 'oci:/nowhere'],
  doctor: ['doctor', '--namespace', 'demo'],
  status: ['status'],
};

function run(command: string, server: string): Promise<Run> {
  return runCli([...(COMMANDS[command] ?? []), '--server', server], home, {
    REGISTRY_PUSH_TOKEN: 'sha256~unreachable-test',
  });
}

/** The one line a failed command ends with (doctor prints its failed check and a summary on stdout). */
function failureLine(command: string, result: Run): string {
  if (command !== 'doctor') return result.stderr.trim().split('\n').at(-1) ?? '';
  return result.stdout.split('\n').find((line) => line.startsWith('[FAIL]')) ?? '';
}

describe.each(Object.keys(COMMANDS))('%s against an API server it cannot use', (command) => {
  it('a closed loopback port is CLUSTER_UNREACHABLE, naming the server and what to check', async () => {
    const result = await run(command, closedUrl);
    expect(result.code).toBe(1);
    const line = failureLine(command, result);
    expect(line).toContain(`Could not reach ${closedUrl}: connection refused`);
    expect(line).toContain('[CLUSTER_UNREACHABLE]');
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at |API_ERROR|Failed to fetch/);
  });

  it('a port where no TLS server answers is CLUSTER_UNREACHABLE too, not API_ERROR', async () => {
    const result = await run(command, plainUrl);
    expect(result.code).toBe(1);
    const line = failureLine(command, result);
    expect(line).toContain(`Could not reach ${plainUrl}: what answered there does not speak TLS`);
    expect(line).toContain('[CLUSTER_UNREACHABLE]');
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at |API_ERROR|Failed to fetch/);
  });

  it('a certificate another CA issued is CLUSTER_TLS_UNTRUSTED', async () => {
    const [name = '', ...rest] = COMMANDS[command] ?? [];
    const result = await runCli([name, ...rest, '--kubeconfig', wrongCaKubeconfig], home);
    expect(result.code).toBe(1);
    const line = failureLine(command, result);
    expect(line).toContain(`The certificate of ${tlsUrl} is not trusted`);
    expect(line).toContain('[CLUSTER_TLS_UNTRUSTED]');
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at |API_ERROR|Failed to fetch/);
  });
});
