import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { createCertificateAuthority } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryDoctor, type DoctorCheck } from '../../src/admin/doctor.js';
import { parsePrometheusText, registryMetrics, summarizeMetrics } from '../../src/admin/metrics.js';
import { registryStatus } from '../../src/admin/status.js';
import { ClusterClient } from '../../src/cluster/client.js';
import { exposeRegistry, revertExpose } from '../../src/expose/expose.js';
import { RegistryPushError } from '../../src/errors.js';

function byId(checks: DoctorCheck[]): Record<string, DoctorCheck> {
  return Object.fromEntries(checks.map((check) => [check.id, check]));
}

describe('doctor, status and metrics on an exposed emptyDir registry', () => {
  let cluster: RunningCluster;
  let host: string;
  const client = (user: string): ClusterClient =>
    ClusterClient.fromOptions({ kubeconfig: cluster.users[user]!.kubeconfig });

  beforeAll(async () => {
    cluster = await startCluster({ routerMode: 'port', defaultRoute: true });
    host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('tells a viewer exactly which role to ask for, and what it could not check', async () => {
    const report = await registryDoctor(client('viewer'), {
      namespace: 'demo',
      connectTo: cluster.routerAddress,
    });
    expect(report.ok).toBe(false);
    const checks = byId(report.checks);
    expect(checks['api-access']).toMatchObject({ status: 'pass' });
    expect(checks['token']?.detail).toMatch(/carries no expiry/);
    expect(checks['registry-config']).toMatchObject({ status: 'skip' });
    expect(checks['registry-config']?.detail).toMatch(/not allowed to read/);
    expect(checks['storage']).toBeUndefined();
    expect(checks['push-permission']).toMatchObject({ status: 'fail' });
    expect(checks['push-permission']?.detail).toMatch(/User "viewer" cannot push to project "demo"/);
    expect(checks['push-permission']?.fix).toBe(
      'Ask a project admin to run `oc policy add-role-to-user system:image-builder viewer -n demo`.',
    );
  });

  it('passes a developer who may push, with the ingress CA given and a real /v2/ login', async () => {
    const report = await registryDoctor(client('developer'), {
      namespace: 'demo',
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    const checks = byId(report.checks);
    expect(checks['push-permission']).toMatchObject({ status: 'pass' });
    expect(checks['registry-host']).toMatchObject({ status: 'pass' });
    expect(checks['registry-host']?.detail).toMatch(new RegExp(`^${host} from `));
    expect(checks['route-reachable']).toMatchObject({ status: 'pass' });
    expect(checks['certificate']).toMatchObject({ status: 'pass' });
    expect(checks['registry-login']).toMatchObject({ status: 'pass' });
    expect(report).toMatchObject({ ok: true, user: 'developer', host });
  });

  it('fails the /v2/ login for a token the registry refuses, with the fix', async () => {
    const report = await registryDoctor(client('developer'), {
      namespace: 'demo',
      token: 'sha256~notARealTokenButLongEnoughToLookLikeOne0000000',
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    const login = byId(report.checks)['registry-login'];
    expect(login?.status).toBe('fail');
    expect(login?.fix).toBeDefined();
    expect(JSON.stringify(report)).not.toContain('notARealToken');
    expect(report.ok).toBe(false);
  });

  it('says when the certificate cannot be found or verified', async () => {
    const report = await registryDoctor(client('developer'), {
      namespace: 'demo',
      connectTo: cluster.routerAddress,
    });
    const checks = byId(report.checks);
    expect(checks['certificate']).toMatchObject({ status: 'fail' });
    expect(checks['certificate']?.fix).toMatch(/ca-file/);
    expect(checks['registry-login']).toMatchObject({ status: 'skip' });
    expect(report.ok).toBe(false);
  });

  it('with tls-verify off, warns that the certificate is not verified and still logs in when no CA source is readable', async () => {
    const report = await registryDoctor(client('developer'), {
      namespace: 'demo',
      tlsVerify: false,
      connectTo: cluster.routerAddress,
    });
    const checks = byId(report.checks);
    expect(checks['certificate']).toMatchObject({ status: 'warn' });
    expect(checks['certificate']?.detail).toMatch(/^not verified \(tls-verify off\); no CA found: /);
    expect(checks['registry-login']).toMatchObject({ status: 'pass' });
    expect(report.ok).toBe(true);
  });

  it('gives an admin the registry checks, a prune check, and warns about emptyDir', async () => {
    const report = await registryDoctor(client('kubeadmin'), {
      namespace: 'demo',
      prune: true,
      connectTo: cluster.routerAddress,
    });
    const checks = byId(report.checks);
    expect(checks['registry-config']).toMatchObject({ status: 'pass' });
    expect(checks['storage']).toMatchObject({ status: 'warn' });
    expect(checks['storage']?.detail).toMatch(/non-production clusters only/);
    expect(checks['registry-available']).toMatchObject({ status: 'pass' });
    expect(checks['read-only']).toMatchObject({ status: 'pass' });
    expect(checks['prune-permission']).toMatchObject({ status: 'pass' });
    expect(checks['certificate']?.detail).toMatch(/default-ingress-cert/);
    expect(checks['registry-login']).toMatchObject({ status: 'pass' });
    expect(report.ok).toBe(true);

    const pruner = await registryDoctor(client('developer'), {
      prune: true,
      host,
      caPem: cluster.ingressCaPem,
    });
    expect(byId(pruner.checks)['prune-permission']?.fix).toBe(
      'A cluster admin grants the pruner role: `oc adm policy add-cluster-role-to-user system:image-pruner developer`.',
    );
  });

  it('shows the status: routes with admission, pods, pruner, and the metrics endpoint answering', async () => {
    const status = await registryStatus(client('kubeadmin'), { connectTo: cluster.routerAddress });
    expect(status).toMatchObject({
      managementState: 'Managed',
      storage: { kind: 'emptyDir' },
      readOnly: false,
      replicas: { desired: 1, ready: 1, source: 'pods' },
      routes: [{ name: 'default-route', kind: 'default', host, admitted: true }],
      metrics: { state: 'ok', host },
      notes: [],
    });
    expect(status.conditions.find((c) => c.type === 'Available')).toMatchObject({ status: 'True' });
    expect(status.replicas.pods[0]).toMatchObject({ phase: 'Running', ready: true });
    const refused = await registryStatus(client('developer')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RegistryPushError);
    expect((refused as RegistryPushError).hint).toMatch(/registry-push doctor/);
  });

  it("probes the metrics of a custom route with that route's own CA", async () => {
    const admin = client('kubeadmin');
    const hostname = `custom-registry.${cluster.appsDomain}`;
    const ca = await createCertificateAuthority('status custom route CA');
    const leaf = await ca.issue({ commonName: hostname });
    const exposed = await exposeRegistry(admin, {
      mode: 'custom-route',
      route: {
        name: 'custom-registry',
        hostname,
        certPem: leaf.certPem,
        keyPem: leaf.keyPem,
        caPem: ca.certPem,
      },
      intervalMs: 50,
    });
    try {
      const status = await registryStatus(admin, { host: hostname, connectTo: cluster.routerAddress });
      expect(status.routes.map((route) => [route.name, route.admitted])).toContainEqual([
        'custom-registry',
        true,
      ]);
      expect(status.metrics).toMatchObject({ state: 'ok', host: hostname });
    } finally {
      await revertExpose(admin, exposed.changes);
    }
  });

  it('reads the metrics series of interest with the caller’s token, and refuses others with the grant', async () => {
    const admin = client('kubeadmin');
    const metrics = await registryMetrics({
      host,
      client: admin,
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    expect(metrics.samples.some((sample) => sample.name === 'imageregistry_http_in_flight_requests')).toBe(
      true,
    );
    expect(metrics.summary.inFlight).toBeGreaterThanOrEqual(1);
    expect(metrics.summary.requests.total).toBeGreaterThan(0);
    const token = cluster.users.developer!.token;
    const refused = await registryMetrics({
      host,
      token,
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    }).catch((error: unknown) => error as RegistryPushError);
    expect(refused).toMatchObject({ code: 'METRICS_FORBIDDEN' });
    expect((refused as RegistryPushError).hint).toMatch(
      /registry\/metrics.*oc adm policy add-cluster-role-to-user/,
    );
    expect(JSON.stringify(refused)).not.toContain(token);
  });

  it("reads the metrics with Basic auth (any user, the token as password), as the docs' curl -u does", async () => {
    const token = cluster.users.kubeadmin!.token;
    const metrics = await registryMetrics({
      host,
      token,
      basicUsername: 'prometheus',
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    expect(metrics.summary.requests.total).toBeGreaterThan(0);
    const refused = await registryMetrics({
      host,
      token: cluster.users.developer!.token,
      basicUsername: 'prometheus',
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    }).catch((error: unknown) => error as RegistryPushError);
    expect(refused).toMatchObject({ code: 'METRICS_FORBIDDEN' });
    const colon = await registryMetrics({
      host,
      token,
      basicUsername: 'a:b',
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    }).catch((error: unknown) => error as RegistryPushError);
    expect(colon).toMatchObject({ code: 'OPTION_INVALID' });
    expect(JSON.stringify(colon)).not.toContain(token);
  });

  it('parses the Prometheus text format, escapes and all', () => {
    const samples = parsePrometheusText(
      [
        '# HELP imageregistry_http_requests_total A counter.',
        'imageregistry_http_requests_total{code="200",method="get"} 7',
        'imageregistry_http_requests_total{code="404",method="head"} 2 1700000000000',
        'imageregistry_storage_errors_total{code="PATH_NOT_FOUND",operation="Stat"} 3',
        'imageregistry_digest_cache_requests_total{type="Hit"} 5',
        'imageregistry_digest_cache_scoped_requests_total{type="Miss"} 1',
        'odd_metric{label="a \\"quoted\\" value, with comma"} +Inf',
        'broken{label=unquoted} 1',
      ].join('\n'),
    );
    expect(samples).toHaveLength(6);
    expect(samples[5]).toEqual({
      name: 'odd_metric',
      labels: { label: 'a "quoted" value, with comma' },
      value: Infinity,
    });
    expect(summarizeMetrics(samples)).toEqual({
      requests: { total: 9, byCode: { '200': 7, '404': 2 } },
      digestCache: { hit: 5, miss: 1 },
      storageErrors: { total: 3, byOperation: { 'Stat PATH_NOT_FOUND': 3 } },
    });
  });
});
