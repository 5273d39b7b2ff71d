// The in-memory ports pass their own contracts with the testkit's default errors (the core's tests run the
// same suites with the core's error type, and against openshift-sim and the distribution registry).
import { clusterApiContract, registryApiContract } from '../src/contracts/index.js';
import { MemoryCluster } from '../src/memory/cluster.js';
import { MemoryRegistry, MemoryRegistryStorage } from '../src/memory/registry.js';

clusterApiContract('memory, PortError', () => {
  const cluster = new MemoryCluster();
  return Promise.resolve({
    client: cluster,
    namespace: 'contract',
    restricted: cluster.as({ username: 'developer' }, (check) => check.namespace !== 'contract'),
    compact: () => cluster.compact(),
  });
});

let counter = 0;
registryApiContract('memory, PortError', () => {
  const storage = new MemoryRegistryStorage();
  return Promise.resolve({
    registry: new MemoryRegistry({ storage }),
    rejected: new MemoryRegistry({ storage, authorized: false }),
    repository: () => `contract/repo-${++counter}`,
  });
});
