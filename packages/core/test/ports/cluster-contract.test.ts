// The cluster port's contract (from the testkit) against each implementation: the in-memory cluster, the
// core's ClusterClient on openshift-sim, and — when REGISTRY_PUSH_CONTRACT_KUBECONFIG names a kubeconfig —
// the same client on a real cluster (see packages/testkit/README.md).
import { MemoryCluster } from '@registry-push/testkit';
import { clusterApiContract } from '@registry-push/testkit/contracts';
import { startCluster } from '@registry-push/openshift-sim';
import { ClusterClient } from '../../src/cluster/client.js';
import type { ClusterApi } from '../../src/ports/cluster-api.js';
import { coreError } from './core-error.js';
import { rawRequester } from './raw-request.js';

clusterApiContract('memory', () => {
  const cluster = new MemoryCluster({ error: coreError });
  // The in-memory cluster is the core's port (this line does not compile when they drift apart).
  const client: ClusterApi = cluster;
  const restricted: ClusterApi = cluster.as(
    { username: 'developer' },
    (check) => check.namespace !== 'contract',
  );
  return Promise.resolve({ client, namespace: 'contract', restricted, compact: () => cluster.compact() });
});

clusterApiContract('openshift-sim', async () => {
  const cluster = await startCluster({ namespaces: ['contract'] });
  const client = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const restricted = ClusterClient.fromOptions({ kubeconfig: cluster.users['developer']?.kubeconfig ?? '' });
  return {
    client,
    restricted,
    namespace: 'contract',
    compact: () => cluster.compact(),
    raw: rawRequester(cluster.kubeconfig),
    stop: async () => {
      await client.close();
      await restricted.close();
      await cluster.stop();
    },
  };
});

clusterApiContract('a real cluster (REGISTRY_PUSH_CONTRACT_KUBECONFIG)', () => {
  const kubeconfig = process.env['REGISTRY_PUSH_CONTRACT_KUBECONFIG'];
  if (kubeconfig === undefined || kubeconfig === '') return Promise.resolve(undefined);
  const client = ClusterClient.fromOptions({ kubeconfig });
  const restrictedConfig = process.env['REGISTRY_PUSH_CONTRACT_RESTRICTED_KUBECONFIG'];
  const restricted =
    restrictedConfig === undefined || restrictedConfig === ''
      ? undefined
      : ClusterClient.fromOptions({ kubeconfig: restrictedConfig });
  return Promise.resolve({
    client,
    namespace: process.env['REGISTRY_PUSH_CONTRACT_NAMESPACE'] ?? 'registry-push-contract',
    ...(restricted === undefined ? {} : { restricted }),
    raw: rawRequester(kubeconfig),
    stop: async () => {
      await client.close();
      await restricted?.close();
    },
  });
});
