import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { createCertificateAuthority, type CertificateAuthority } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import type { DataObject, ImageConfig } from '../../src/cluster/openshift-objects.js';
import { addTrustedCA, listTrustedCAs, removeTrustedCA } from '../../src/trust/trusted-ca-admin.js';
import { failure } from '../failure.js';

const NS = 'openshift-config';
let cluster: RunningCluster;
let admin: ClusterClient;
let corpCa: CertificateAuthority;

async function referenced(): Promise<string | undefined> {
  return (await admin.get<ImageConfig>(Resources.imageConfig, 'cluster')).spec.additionalTrustedCA?.name;
}

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port' });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  corpCa = await createCertificateAuthority('Corp Registry CA');
});
afterAll(async () => {
  await cluster.stop();
});

describe('trusted CA administration', () => {
  it('refuses a private key next to the certificate, and a key alone, writing nothing', async () => {
    for (const caPem of [corpCa.certPem + corpCa.keyPem, corpCa.keyPem]) {
      const error = await failure(addTrustedCA(admin, { host: 'corp.example', caPem }));
      expect(error.code).toBe('CA_INVALID');
      expect(error.message).toBe(
        'the CA holds a private key, not only certificates; it was not sent anywhere.',
      );
      expect(`${error.message} ${error.hint} ${JSON.stringify(error.toJSON())}`).not.toContain(
        corpCa.keyPem.split('\n')[1] ?? 'unreachable',
      );
    }
    expect(await admin.find(Resources.configMap, 'registry-cas', NS)).toBeUndefined();
    expect(await referenced()).toBe('');
  });

  it('uses a config map the image config names but that does not exist yet, creating it without re-patching', async () => {
    await admin.mergePatch(Resources.imageConfig, 'cluster', {
      spec: { additionalTrustedCA: { name: 'corp' } },
    });
    expect(await listTrustedCAs(admin)).toEqual({ configMap: 'corp', configMapExists: false, entries: [] });
    const dry = await addTrustedCA(admin, { host: 'corp.example:8443', caPem: corpCa.certPem, dryRun: true });
    expect(dry).toMatchObject({ configMap: 'corp', configMapChange: 'created', dryRun: true });
    expect(dry.imageConfigPatch).toBeUndefined();
    expect(await admin.find(Resources.configMap, 'corp', NS)).toBeUndefined();
    const added = await addTrustedCA(admin, { host: 'corp.example:8443', caPem: corpCa.certPem });
    expect(added).toMatchObject({ key: 'corp.example..8443', configMapChange: 'created', dryRun: false });
    const list = await listTrustedCAs(admin);
    expect(list.entries).toHaveLength(1);
    expect(list.entries[0]).toMatchObject({ key: 'corp.example..8443', host: 'corp.example:8443' });
    expect(list.entries[0]?.certificates[0]).toMatchObject({ subject: 'CN=Corp Registry CA', isCa: true });
  });

  it('replaces a changed CA with a merge patch of its key only', async () => {
    await admin.mergePatch(Resources.configMap, 'corp', { data: { 'keep.example': 'kept as is' } }, NS);
    const renewed = await createCertificateAuthority('Corp Registry CA 2');
    const change = await addTrustedCA(admin, { host: 'corp.example:8443', caPem: renewed.certPem });
    expect(change).toMatchObject({ configMapChange: 'updated' });
    expect(change.configMapPatch).toEqual({ data: { 'corp.example..8443': renewed.certPem.trim() + '\n' } });
    const map = await admin.get<DataObject>(Resources.configMap, 'corp', NS);
    expect(map.data).toEqual({
      'corp.example..8443': renewed.certPem.trim() + '\n',
      'keep.example': 'kept as is',
    });
  });

  it('remove with dryRun sends nothing; remove takes the key out and keeps the reference', async () => {
    const dry = await removeTrustedCA(admin, { host: 'corp.example:8443', dryRun: true });
    expect(dry).toMatchObject({
      configMapChange: 'updated',
      configMapPatch: { data: { 'corp.example..8443': null } },
    });
    expect((await admin.get<DataObject>(Resources.configMap, 'corp', NS)).data).toHaveProperty(
      'corp.example..8443',
    );
    await removeTrustedCA(admin, { host: 'corp.example:8443' });
    expect((await admin.get<DataObject>(Resources.configMap, 'corp', NS)).data).toEqual({
      'keep.example': 'kept as is',
    });
    expect(await referenced()).toBe('corp');
    expect(await removeTrustedCA(admin, { host: 'corp.example:8443' })).toMatchObject({
      configMapChange: 'unchanged',
    });
  });
});
