// The bundle pointed at an API server it cannot use fails the step with the same codes as the CLI:
// CLUSTER_UNREACHABLE for a closed port or a port where no TLS server answers (that one escaped as
// API_ERROR "Failed to fetch resource metadata…: fetch failed"), CLUSTER_TLS_UNTRUSTED for a certificate
// the given CA did not issue. One error line naming the server, no stack trace, nothing left behind.
import { mkdir, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createCertificateAuthority, freePort, makeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeRunner, type StepResult } from './runner.js';

let work: string;
let plain: HttpServer;
let foreignTls: HttpsServer;
let otherCaPem: string;

async function listen(server: HttpServer | HttpsServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  work = await makeWorkDir('action-unreachable');
  plain = createHttpServer((_, response) => response.end('not an API server'));
  const issuer = await createCertificateAuthority('issuer CA');
  otherCaPem = (await createCertificateAuthority('some other CA')).certPem;
  const leaf = await issuer.issue({ commonName: '127.0.0.1', altNames: ['127.0.0.1'] });
  foreignTls = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_, response) =>
    response.end('{}'),
  );
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => plain?.close(resolve));
  await new Promise((resolve) => foreignTls?.close(resolve));
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function runAgainst(
  name: string,
  inputs: Record<string, string>,
): Promise<{ main: StepResult; runner: FakeRunner }> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const runner = await FakeRunner.create(dir);
  const { main } = await runner.job({
    token: 'sha256~unreachable-test',
    namespace: 'demo',
    image: 'app',
    source: 'oci:/nowhere',
    ...inputs,
  });
  expect(await runner.leftInTemp()).toEqual([]);
  return { main, runner };
}

function errorLines(step: StepResult): string[] {
  return [...step.stdout.matchAll(/^::error::(.*)$/gm)].map((match) => match[1] ?? '');
}

describe('the action against an API server it cannot use', () => {
  it('a closed loopback port is CLUSTER_UNREACHABLE', async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const { main } = await runAgainst('closed', { server });
    expect(main.code).toBe(1);
    expect(errorLines(main)).toEqual([
      expect.stringMatching(
        new RegExp(`^Could not reach ${server}: connection refused.*\\[CLUSTER_UNREACHABLE\\]$`),
      ),
    ]);
    expect(main.log).not.toMatch(/API_ERROR|Failed to fetch/);
  });

  it('a port where no TLS server answers is CLUSTER_UNREACHABLE, not API_ERROR', async () => {
    const server = await listen(plain);
    const { main } = await runAgainst('plain', { server });
    expect(main.code).toBe(1);
    expect(errorLines(main)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Could not reach ${server}: what answered there does not speak TLS.*\\[CLUSTER_UNREACHABLE\\]$`,
        ),
      ),
    ]);
    expect(main.log).not.toMatch(/API_ERROR|Failed to fetch/);
  });

  it('a certificate another CA issued is CLUSTER_TLS_UNTRUSTED', async () => {
    const server = await listen(foreignTls);
    const { main } = await runAgainst('wrong-ca', { server, 'server-ca': otherCaPem });
    expect(main.code).toBe(1);
    expect(errorLines(main)).toEqual([
      expect.stringMatching(
        new RegExp(`^The certificate of ${server} is not trusted.*\\[CLUSTER_TLS_UNTRUSTED\\]$`),
      ),
    ]);
  });
});
