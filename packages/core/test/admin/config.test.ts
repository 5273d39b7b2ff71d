import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PREVIOUS_SPEC_ANNOTATION,
  getRegistryConfig,
  setRegistryConfig,
  undoRegistryConfig,
} from '../../src/admin/config.js';
import { AdminResources, type PersistentVolumeClaim } from '../../src/admin/admin-objects.js';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryNames, Resources } from '../../src/cluster/resources.js';
import type { RegistryConfig } from '../../src/cluster/openshift-objects.js';
import { failure } from '../failure.js';

let cluster: RunningCluster;
let admin: ClusterClient;
const config = (): Promise<RegistryConfig> =>
  admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port', registryRolloutDelayMs: 50 });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  for (const [name, mode] of [
    ['block', 'ReadWriteOnce'],
    ['shared', 'ReadWriteMany'],
  ] as const) {
    await admin.create<PersistentVolumeClaim>(AdminResources.persistentVolumeClaim, {
      metadata: { name, namespace: RegistryNames.namespace },
      spec: { accessModes: [mode], resources: { requests: { storage: '100Gi' } } },
    });
  }
});

afterAll(async () => {
  await cluster.stop();
});

const TOLERATIONS = [{ key: 'infra', operator: 'Exists', effect: 'NoSchedule' }];
const AFFINITY = {
  podAntiAffinity: {
    preferredDuringSchedulingIgnoredDuringExecution: [
      {
        weight: 100,
        podAffinityTerm: {
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: { 'docker-registry': 'default' } },
        },
      },
    ],
  },
};
const SPREAD = [
  { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
];
const RESOURCES = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } };

describe('config set, get, diff and undo against the simulator', () => {
  it('sets every kind of field and reads each back', async () => {
    const result = await setRegistryConfig(admin, [
      'readOnly=true',
      'logLevel=Debug',
      'proxy.http=http://proxy.example:3128',
      'proxy.https=http://proxy.example:3128',
      'proxy.noProxy=.cluster.local,.svc',
      'requests.read.maxRunning=10',
      'requests.read.maxInQueue=20',
      'requests.read.maxWaitInQueue=30s',
      'requests.write.maxRunning=5',
      'requests.write.maxInQueue=7',
      'requests.write.maxWaitInQueue=1m30s',
      'disableRedirect=true',
      `nodeSelector=${JSON.stringify({ 'node-role.kubernetes.io/infra': '' })}`,
      `tolerations=${JSON.stringify(TOLERATIONS)}`,
      `affinity=${JSON.stringify(AFFINITY)}`,
      `topologySpreadConstraints=${JSON.stringify(SPREAD)}`,
      `resources=${JSON.stringify(RESOURCES)}`,
      'rolloutStrategy=Recreate',
      'defaultRoute=true',
      'managementState=Managed',
    ]);
    expect(result).toMatchObject({ applied: true, dryRun: false });
    expect(result.diff).toContain('+ logLevel: Debug');
    expect(result.diff).toContain('+ requests.write.maxWaitInQueue: 1m30s');
    const expected: Record<string, unknown> = {
      readOnly: true,
      logLevel: 'Debug',
      'proxy.http': 'http://proxy.example:3128',
      'proxy.noProxy': '.cluster.local,.svc',
      'requests.read.maxRunning': 10,
      'requests.read.maxInQueue': 20,
      'requests.read.maxWaitInQueue': '30s',
      'requests.write.maxRunning': 5,
      'requests.write.maxWaitInQueue': '1m30s',
      disableRedirect: true,
      nodeSelector: { 'node-role.kubernetes.io/infra': '' },
      tolerations: TOLERATIONS,
      affinity: AFFINITY,
      topologySpreadConstraints: SPREAD,
      resources: RESOURCES,
      rolloutStrategy: 'Recreate',
      defaultRoute: true,
      managementState: 'Managed',
    };
    for (const [path, value] of Object.entries(expected)) {
      expect(await getRegistryConfig(admin, path), path).toEqual(value);
    }
    const spec = (await getRegistryConfig(admin)) as Record<string, unknown>;
    expect(spec['replicas']).toBe(1);
    expect(spec).not.toHaveProperty('httpSecret');
  });

  it('a dry run returns the patch and the diff and changes nothing', async () => {
    const before = await config();
    const result = await setRegistryConfig(admin, ['logLevel=Trace', 'proxy.http=null'], { dryRun: true });
    expect(result).toMatchObject({ applied: false, dryRun: true });
    expect(result.patch.spec).toEqual({ logLevel: 'Trace', proxy: { http: null } });
    expect(result.diff).toEqual([
      '- logLevel: Debug',
      '+ logLevel: Trace',
      '- proxy.http: http://proxy.example:3128',
    ]);
    expect((await config()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('refuses invalid values locally, naming the field and the allowed values, and sends nothing', async () => {
    const before = await config();
    const cases: [string, RegExp][] = [
      ['logLevel=Loud', /^logLevel must be one of Normal, Debug, Trace, TraceAll, not "Loud"\.$/],
      [
        'rolloutStrategy=BlueGreen',
        /^rolloutStrategy must be one of RollingUpdate, Recreate, not "BlueGreen"\.$/,
      ],
      ['readOnly=yes', /^readOnly must be true or false, not "yes"\.$/],
      ['replicas=-1', /^replicas must be a whole number from 0 to 2147483647, not "-1"\.$/],
      ['replicas=null', /^replicas cannot be removed/],
      [
        'requests.read.maxWaitInQueue=5',
        /maxWaitInQueue must be a duration such as 0s, 500ms, 30s or 1m30s, not "5"/,
      ],
      [
        'storage.emptyDir.medium=Memory',
        /^Unknown setting "storage.emptyDir.medium": storage.emptyDir takes no fields/,
      ],
      ['routes=[]', /^Unknown setting "routes": config set takes managementState, readOnly/],
      [
        'tolerations=[{"operator":"Maybe"}]',
        /^tolerations\[0\]\.operator must be one of Exists, Equal, not "Maybe"\.$/,
      ],
      ['topologySpreadConstraints=[{"maxSkew":1}]', /^topologySpreadConstraints\[0\] needs topologyKey/],
      ['resources={"requests":{"cpu":"lots"}}', /^resources\.requests\.cpu must be a quantity/],
      [
        'affinity={"nodeAfinity":{}}',
        /^affinity has no field "nodeAfinity"; it takes nodeAffinity, podAffinity, podAntiAffinity\.$/,
      ],
      ['nodeSelector={not json', /^nodeSelector takes JSON/],
      ['nodeSelector={"zone":1}', /^nodeSelector\.zone must be a string/],
    ];
    for (const [setting, message] of cases) {
      const error = await failure(setRegistryConfig(admin, [setting]));
      expect(error.code, setting).toBe('OPTION_INVALID');
      expect(error.message, setting).toMatch(message);
    }
    expect((await config()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it("passes the API server's refusal (422) on as INVALID, unchanged config", async () => {
    const before = await config();
    // Deeper than the local checks go: nodeSelectorTerms must be an array, the CRD says so.
    const error = await failure(
      setRegistryConfig(admin, [
        'affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":"all"}}}',
      ]),
    );
    expect(error.code).toBe('INVALID');
    expect(error.message).toMatch(/refused the patch of .*cluster.* as invalid.*nodeSelectorTerms/);
    expect((await config()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('refuses replicas > 1 on emptyDir storage with the rule', async () => {
    const error = await failure(setRegistryConfig(admin, ['replicas=2']));
    expect(error.code).toBe('STORAGE_REFUSED');
    expect(error.message).toMatch(
      /^replicas=2 refused: the registry uses emptyDir storage, and the rule is that more than one replica needs shared storage/,
    );
    expect(error.hint).toMatch(/Keep replicas=1 with emptyDir/);
    expect(await getRegistryConfig(admin, 'replicas')).toBe(1);
  });

  it('records the previous spec in the same patch, and undo restores it; undo twice returns', async () => {
    const first = (await config()).spec;
    const now = new Date('2026-12-03T10:00:00.000Z');
    await setRegistryConfig(admin, ['logLevel=TraceAll'], { now });
    await setRegistryConfig(admin, ['proxy.http=null', 'tolerations=null'], { now });
    const changed = await config();
    const recorded = JSON.parse(changed.metadata.annotations?.[PREVIOUS_SPEC_ANNOTATION] ?? '{}') as {
      at: string;
      spec: Record<string, unknown>;
    };
    expect(recorded.at).toBe(now.toISOString());
    expect(recorded.spec['logLevel']).toBe('TraceAll');
    expect(recorded.spec['tolerations']).toEqual(TOLERATIONS);
    // Storage is recorded too (config set changes it), as it was.
    expect(recorded.spec['storage']).toEqual(first.storage);
    expect(await getRegistryConfig(admin, 'tolerations')).toBeUndefined();

    const undone = await undoRegistryConfig(admin);
    expect(undone.applied).toBe(true);
    expect(undone.recordedAt).toBe(now.toISOString());
    expect(undone.diff).toContain('+ proxy.http: http://proxy.example:3128');
    expect(await getRegistryConfig(admin, 'tolerations')).toEqual(TOLERATIONS);
    expect(await getRegistryConfig(admin, 'proxy.http')).toBe('http://proxy.example:3128');

    await undoRegistryConfig(admin);
    expect(await getRegistryConfig(admin, 'tolerations')).toBeUndefined();
    expect(await getRegistryConfig(admin, 'proxy.http')).toBeUndefined();
    expect(await getRegistryConfig(admin, 'logLevel')).toBe('TraceAll');
    expect((await config()).spec.storage).toEqual(first.storage);
  });

  it('enforces the ReadWriteOnce claim rules: one replica, Recreate; a ReadWriteMany claim allows more', async () => {
    await admin.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
      spec: { storage: { emptyDir: null, pvc: { claim: 'block' } }, rolloutStrategy: 'Recreate' },
    });
    const two = await failure(setRegistryConfig(admin, ['replicas=2']));
    expect(two.code).toBe('STORAGE_REFUSED');
    expect(two.message).toMatch(
      /^replicas=2 refused: claim block is ReadWriteOnce, and the rule is that more than one replica needs a ReadWriteMany claim/,
    );
    const rolling = await failure(setRegistryConfig(admin, ['rolloutStrategy=RollingUpdate']));
    expect(rolling.message).toMatch(
      /^rolloutStrategy=RollingUpdate refused: claim block is ReadWriteOnce, and the rule is that a ReadWriteOnce claim needs rolloutStrategy Recreate/,
    );
    expect(rolling.hint).toBe('Set rolloutStrategy=Recreate.');
    // Unrelated changes are not held back by the rules.
    expect((await setRegistryConfig(admin, ['logLevel=Normal'], { dryRun: true })).patch.spec).toEqual({
      logLevel: 'Normal',
    });

    await admin.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
      spec: { storage: { pvc: { claim: 'shared' } } },
    });
    const shared = await setRegistryConfig(admin, ['replicas=3', 'rolloutStrategy=RollingUpdate']);
    expect(shared.applied).toBe(true);
    expect(await getRegistryConfig(admin, 'replicas')).toBe(3);
  });

  it('hides a proxy password in the diff', async () => {
    const result = await setRegistryConfig(
      admin,
      ['proxy.https=http://user:s3cret-pass@proxy.example:3128'],
      {
        dryRun: true,
      },
    );
    expect(result.diff).toContain('+ proxy.https: http://user:***@proxy.example:3128');
    expect(result.diff.join('\n')).not.toContain('s3cret-pass');
  });

  it('warns before Removed that managed storage is deleted with it', async () => {
    const result = await setRegistryConfig(admin, ['managementState=Removed'], { dryRun: true });
    expect(result.warnings).toEqual([
      'managementState Removed makes the operator delete the registry deployment, service and routes, and, since spec.storage.managementState is Managed, the storage with every image in it. Pushes and pulls through the registry stop.',
    ]);
  });

  it('a change made by someone else between the read and the patch is read again: the record is what it replaced', async () => {
    const other = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    // The real client, with another admin's change landing right after the config was read (the first
    // `writes` reads; an operator's status update does the same to the resourceVersion).
    const racing = (writes: number): ClusterClient => {
      let left = writes;
      return new Proxy(admin, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (property !== 'get' || typeof value !== 'function') return value;
          return async (...args: unknown[]): Promise<unknown> => {
            const read: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (left-- > 0) {
              await other.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
                spec: { logLevel: left % 2 === 0 ? 'Trace' : 'TraceAll' },
              });
            }
            return read;
          };
        },
      });
    };
    const once = await setRegistryConfig(racing(1), ['logLevel=Debug']);
    expect(once.applied).toBe(true);
    const after = await config();
    expect(after.spec).toMatchObject({ logLevel: 'Debug' });
    const recorded = JSON.parse(after.metadata.annotations?.[PREVIOUS_SPEC_ANNOTATION] ?? '{}') as {
      spec?: { logLevel?: string };
    };
    expect(recorded.spec?.logLevel).toBe('Trace');

    // A config that changes under every read: CONFLICT after a few reads, and nothing recorded.
    const recordBefore = (await config()).metadata.annotations?.[PREVIOUS_SPEC_ANNOTATION];
    const error = await failure(setRegistryConfig(racing(100), ['logLevel=Normal']));
    expect(error.code).toBe('CONFLICT');
    const last = await config();
    expect(last.spec).not.toMatchObject({ logLevel: 'Normal' });
    expect(last.metadata.annotations?.[PREVIOUS_SPEC_ANNOTATION]).toBe(recordBefore);
  });

  it('a viewer is refused with FORBIDDEN and told who can do it', async () => {
    const viewer = ClusterClient.fromOptions({ kubeconfig: cluster.users['viewer']!.kubeconfig });
    const error = await failure(setRegistryConfig(viewer, ['logLevel=Debug']));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.hint).toMatch(/needs cluster-admin/);
  });

  it('undo with nothing recorded says so', async () => {
    await admin.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
      metadata: { annotations: { [PREVIOUS_SPEC_ANNOTATION]: null } },
    });
    const error = await failure(undoRegistryConfig(admin));
    expect(error.message).toMatch(/^Nothing to undo/);
  });
});
