// The system trust update (update-ca-certificates / update-ca-trust) runs with an allow-listed
// environment: it rewrites files under /etc and has no use for the token or CI secrets in ours.
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, makeWorkDir } from '@registry-push/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { installTrust, uninstallTrust } from '../../src/trust/install.js';

const SECRET = 'sha256~' + 'UpdateEnvSecret0123456789abcdefghijklmnopq';
let work: string;

beforeEach(async () => {
  work = await makeWorkDir('core-trust-update-env');
  process.env.REGISTRY_PUSH_TOKEN = SECRET;
  process.env.GITHUB_TOKEN = 'ghs_notForTheUpdate';
});

afterEach(async () => {
  delete process.env.REGISTRY_PUSH_TOKEN;
  delete process.env.GITHUB_TOKEN;
  await rm(work, { recursive: true, force: true });
});

it('the update command gets PATH but not the token or other secrets', async () => {
  const dump = join(work, 'environment.txt');
  const update = join(work, 'update-ca-trust');
  await writeFile(update, `#!/bin/sh\nenv > '${dump}'\n`);
  await chmod(update, 0o755);
  const ca = await createCertificateAuthority();
  const installation = await installTrust({
    host: 'registry.example:443',
    caPem: ca.certPem,
    system: true,
    systemStore: { anchorsDir: work, updateCommand: [update] },
  });
  const text = await readFile(dump, 'utf8');
  expect(text).toMatch(/^PATH=/m);
  expect(text).not.toMatch(/^(REGISTRY_PUSH_TOKEN|GITHUB_TOKEN)=/m);
  expect(text).not.toContain(SECRET);
  await uninstallTrust(installation);
});
