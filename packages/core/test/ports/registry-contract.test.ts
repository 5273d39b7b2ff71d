// The registry port's contract (from the testkit) against each implementation: the in-memory registry, the
// core's RegistryClient on the distribution registry (Basic auth), and on openshift-sim's OpenShift
// registry (token auth; a manifest an image stream references cannot be deleted; /admin/blobs), and — when
// REGISTRY_PUSH_CONTRACT_KUBECONFIG names a kubeconfig — a real cluster's integrated registry.
import { startCluster } from '@registry-push/openshift-sim';
import { MemoryRegistry, MemoryRegistryStorage, startRegistry } from '@registry-push/testkit';
import { registryApiContract } from '@registry-push/testkit/contracts';
import { ClusterClient } from '../../src/cluster/client.js';
import { discoverRegistryHost } from '../../src/expose/discover.js';
import { registryTrust } from '../../src/trust/registry-trust.js';
import type { RegistryApi } from '../../src/ports/registry-api.js';
import { RegistryClient } from '../../src/registry/client.js';
import { coreError } from './core-error.js';

let counter = 0;

/** `oc tag -d`: what releases a manifest for deletion on OpenShift. */
const IMAGE_STREAM_TAG = {
  apiVersion: 'image.openshift.io/v1',
  kind: 'ImageStreamTag',
  plural: 'imagestreamtags',
  namespaced: true,
} as const;

registryApiContract('memory', () => {
  const storage = new MemoryRegistryStorage();
  // The in-memory registry is the core's port (this line does not compile when they drift apart).
  const registry: RegistryApi = new MemoryRegistry({ storage, error: coreError });
  const rejected: RegistryApi = new MemoryRegistry({ storage, authorized: false, error: coreError });
  return Promise.resolve({ registry, rejected, repository: () => `contract/memory-${++counter}` });
});

registryApiContract('distribution registry', async () => {
  const auth = { username: 'contract', password: 'contract-password' };
  const running = await startRegistry({ tls: true, auth });
  const connection = { host: running.host, caPem: running.caPem ?? '', retry: { retries: 0 } };
  const registry = new RegistryClient({ ...connection, credentials: { kind: 'basic', ...auth } });
  const rejected = new RegistryClient({
    ...connection,
    credentials: { kind: 'basic', username: auth.username, password: 'wrong' },
  });
  return {
    registry,
    rejected,
    repository: () => `contract/distribution-${++counter}`,
    stop: async () => {
      await registry.close();
      await rejected.close();
      await running.stop();
    },
  };
});

registryApiContract('openshift-sim', async () => {
  const cluster = await startCluster({ namespaces: ['contract'] });
  const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const token = (await admin.bearerToken()) ?? '';
  const connection = {
    host: cluster.internalRegistry,
    connectTo: cluster.registryServiceAddress,
    caPem: cluster.serviceCaPem,
    retry: { retries: 0 },
  };
  const registry = new RegistryClient({ ...connection, credentials: { kind: 'bearer', token } });
  const rejected = new RegistryClient({ ...connection, credentials: { kind: 'bearer', token: `${token}x` } });
  return {
    registry,
    rejected,
    repository: () => `contract/sim-${++counter}`,
    openshift: {
      release: async (repository: string, tag: string) => {
        const [namespace, name] = repository.split('/');
        await admin.delete(IMAGE_STREAM_TAG, `${name ?? ''}:${tag}`, namespace);
      },
    },
    stop: async () => {
      await registry.close();
      await rejected.close();
      await admin.close();
      await cluster.stop();
    },
  };
});

registryApiContract('a real cluster (REGISTRY_PUSH_CONTRACT_KUBECONFIG)', async () => {
  const kubeconfig = process.env['REGISTRY_PUSH_CONTRACT_KUBECONFIG'];
  if (kubeconfig === undefined || kubeconfig === '') return undefined;
  const admin = ClusterClient.fromOptions({ kubeconfig });
  const namespace = process.env['REGISTRY_PUSH_CONTRACT_NAMESPACE'] ?? 'registry-push-contract';
  const token = (await admin.bearerToken()) ?? '';
  const host =
    process.env['REGISTRY_PUSH_CONTRACT_REGISTRY'] ?? (await discoverRegistryHost(admin)).found?.host;
  if (host === undefined) throw new Error('No registry host found: set REGISTRY_PUSH_CONTRACT_REGISTRY.');
  const trust = await registryTrust({ host, client: admin });
  const connection = {
    host,
    ...(trust.caPem === undefined ? {} : { caPem: trust.caPem }),
    retry: { retries: 0 },
  };
  const registry = new RegistryClient({ ...connection, credentials: { kind: 'bearer', token } });
  const rejected = new RegistryClient({ ...connection, credentials: { kind: 'bearer', token: `${token}x` } });
  return {
    registry,
    rejected,
    repository: () => `${namespace}/contract-${Date.now().toString(36)}-${++counter}`,
    openshift: {
      release: async (repository: string, tag: string) => {
        const [project, name] = repository.split('/');
        await admin.delete(IMAGE_STREAM_TAG, `${name ?? ''}:${tag}`, project);
      },
    },
    stop: async () => {
      await registry.close();
      await rejected.close();
      await admin.close();
    },
  };
});
