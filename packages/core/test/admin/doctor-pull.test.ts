import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryDoctor, type DoctorCheck } from '../../src/admin/doctor.js';
import { ClusterClient } from '../../src/cluster/client.js';

describe('doctor checks pull rights as it checks push rights', () => {
  let cluster: RunningCluster;
  const check = async (user: string, id: string): Promise<DoctorCheck | undefined> => {
    const client = ClusterClient.fromOptions({ kubeconfig: cluster.users[user]!.kubeconfig });
    const report = await registryDoctor(client, {
      namespace: 'demo',
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    return report.checks.find((found) => found.id === id);
  };

  beforeAll(async () => {
    cluster = await startCluster({
      routerMode: 'port',
      defaultRoute: true,
      users: [
        { name: 'puller', roles: [{ role: 'system:image-puller', namespace: 'demo' }] },
        { name: 'reader', roles: [{ role: 'registry-viewer', namespace: 'demo' }] },
        // Push without pull: no bootstrap role grants it, an admin's own Role can.
        {
          name: 'pusher',
          roles: [],
          customRoles: [
            {
              namespace: 'demo',
              rules: [
                { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
                { apiGroups: ['image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['update'] },
              ],
            },
          ],
        },
      ],
    });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('passes a user with system:image-puller, and fails their push check', async () => {
    expect(await check('puller', 'pull-permission')).toMatchObject({
      status: 'pass',
      title: 'pull permission in demo',
      detail: 'may pull from demo (get imagestreams/layers)',
    });
    expect(await check('puller', 'push-permission')).toMatchObject({ status: 'fail' });
  });

  it('passes a registry-viewer', async () => {
    expect(await check('reader', 'pull-permission')).toMatchObject({ status: 'pass' });
  });

  it('fails a user who may only push, naming the role binding to add', async () => {
    expect(await check('pusher', 'push-permission')).toMatchObject({ status: 'pass' });
    expect(await check('pusher', 'pull-permission')).toEqual({
      id: 'pull-permission',
      title: 'pull permission in demo',
      status: 'fail',
      detail:
        'User "pusher" cannot pull from project "demo": pulling needs the system:image-puller role (or registry-viewer, registry-editor, edit, admin) there.',
      fix: 'Ask a project admin to run `oc policy add-role-to-user system:image-puller pusher -n demo`.',
    });
  });

  it('fails a viewer, whose view role does not cover registry pulls', async () => {
    expect(await check('viewer', 'pull-permission')).toMatchObject({
      status: 'fail',
      fix: 'Ask a project admin to run `oc policy add-role-to-user system:image-puller viewer -n demo`.',
    });
  });

  it('passes the project admin for both', async () => {
    expect(await check('developer', 'pull-permission')).toMatchObject({ status: 'pass' });
    expect(await check('developer', 'push-permission')).toMatchObject({ status: 'pass' });
  });

  it('skips the pull check without a project, and says so', async () => {
    const client = ClusterClient.fromOptions({ kubeconfig: cluster.users['developer']!.kubeconfig });
    const report = await registryDoctor(client, { connectTo: cluster.routerAddress });
    expect(report.checks.find((found) => found.id === 'pull-permission')).toEqual({
      id: 'pull-permission',
      title: 'pull permission',
      status: 'skip',
      detail: 'no project given (--namespace)',
    });
  });
});
