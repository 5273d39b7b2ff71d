// `config set storage.…`: every backend of the CRD, its credentials secret, the storage rules and undo,
// against the simulator (whose API server validates the spec with the real CRD schema).
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setRegistryConfig, undoRegistryConfig } from '../../src/admin/config.js';
import { AdminResources, type PersistentVolumeClaim } from '../../src/admin/admin-objects.js';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryNames, Resources } from '../../src/cluster/resources.js';
import type { DataObject, RegistryConfig } from '../../src/cluster/openshift-objects.js';
import { failure } from '../failure.js';

let cluster: RunningCluster;
let admin: ClusterClient;
const config = (): Promise<RegistryConfig> =>
  admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
const storage = async (): Promise<Record<string, unknown>> =>
  (await config()).spec.storage as Record<string, unknown>;
const SECRET = 'image-registry-private-configuration-user';
const secret = (): Promise<DataObject | undefined> =>
  admin.find<DataObject>(Resources.secret, SECRET, RegistryNames.namespace);
const decoded = (object: DataObject | undefined, key: string): string | undefined => {
  const value = object?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString();
};

async function claim(name: string, mode: string, size: string): Promise<void> {
  await admin.create<PersistentVolumeClaim>(AdminResources.persistentVolumeClaim, {
    metadata: { name, namespace: RegistryNames.namespace },
    spec: { accessModes: [mode], resources: { requests: { storage: size } } },
  });
}

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port', registryRolloutDelayMs: 50 });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  await claim('shared', 'ReadWriteMany', '200Gi');
  await claim('small', 'ReadWriteMany', '20Gi');
  await claim('block', 'ReadWriteOnce', '100Gi');
});

afterAll(async () => {
  await cluster.stop();
});

/** Every test starts from emptyDir with one replica and no credentials secret. */
beforeEach(async () => {
  const current = await config();
  const backends = Object.keys(current.spec.storage ?? {}).filter((key) => key !== 'managementState');
  await admin.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
    spec: {
      replicas: 1,
      rolloutStrategy: 'RollingUpdate',
      storage: { ...Object.fromEntries(backends.map((key) => [key, null])), emptyDir: {} },
    },
  });
  if ((await secret()) !== undefined) {
    await admin.delete(Resources.secret, SECRET, RegistryNames.namespace);
  }
});

describe('config set storage against the simulator', () => {
  it('sets S3 with every field, writes the credentials secret, and never returns the keys', async () => {
    const result = await setRegistryConfig(
      admin,
      [
        'storage.emptyDir=null',
        'storage.s3.bucket=registry-bucket',
        'storage.s3.region=us-gov-west-1',
        'storage.s3.regionEndpoint=https://s3.example.internal:9000',
        'storage.s3.encrypt=true',
        'storage.s3.keyID=arn:aws:kms:us-gov-west-1:123:key/abc',
        'storage.s3.virtualHostedStyle=true',
        'storage.s3.chunkSizeMiB=10',
        'storage.s3.trustedCA.name=s3-ca',
        `storage.s3.cloudFront=${JSON.stringify({
          baseURL: 'https://d111.cloudfront.net',
          keypairID: 'K2JCJMDEHXQW5F',
          privateKey: { name: 'cloudfront-key', key: 'private.pem' },
          duration: '20m',
        })}`,
        'storage.managementState=Unmanaged',
      ],
      {
        credentials: {
          REGISTRY_STORAGE_S3_ACCESSKEY: 'AKIA-ACCESS-1',
          REGISTRY_STORAGE_S3_SECRETKEY: 's3cr3t-value-1',
        },
      },
    );
    expect(result.applied).toBe(true);
    expect(result.credentials).toEqual({
      namespace: 'openshift-image-registry',
      name: SECRET,
      keys: ['REGISTRY_STORAGE_S3_ACCESSKEY', 'REGISTRY_STORAGE_S3_SECRETKEY'],
      action: 'create',
    });
    expect(JSON.stringify(result)).not.toMatch(/AKIA-ACCESS-1|s3cr3t-value-1/);
    expect(result.diff).toContain('- storage.emptyDir: {}');
    expect(result.diff).toContain('+ storage.s3.bucket: registry-bucket');
    expect(result.warnings.join('\n')).toMatch(/Storage moves from emptyDir to s3/);
    const s3 = (await storage())['s3'];
    expect(s3).toMatchObject({
      bucket: 'registry-bucket',
      region: 'us-gov-west-1',
      regionEndpoint: 'https://s3.example.internal:9000',
      encrypt: true,
      keyID: 'arn:aws:kms:us-gov-west-1:123:key/abc',
      virtualHostedStyle: true,
      chunkSizeMiB: 10,
      trustedCA: { name: 's3-ca' },
      cloudFront: { baseURL: 'https://d111.cloudfront.net', keypairID: 'K2JCJMDEHXQW5F', duration: '20m' },
    });
    expect((await storage())['managementState']).toBe('Unmanaged');
    expect((await storage())['emptyDir']).toBeUndefined();
    const written = await secret();
    expect(decoded(written, 'REGISTRY_STORAGE_S3_ACCESSKEY')).toBe('AKIA-ACCESS-1');
    expect(decoded(written, 'REGISTRY_STORAGE_S3_SECRETKEY')).toBe('s3cr3t-value-1');
  });

  it('sets GCS, Azure (government cloud), Swift, IBM COS and OSS, each read back from the API server', async () => {
    const cases: [string, string[], Record<string, string>, Record<string, unknown>][] = [
      [
        'gcs',
        [
          'storage.gcs.bucket=b1',
          'storage.gcs.region=us-east1',
          'storage.gcs.projectID=p1',
          'storage.gcs.keyID=k1',
        ],
        { REGISTRY_STORAGE_GCS_KEYFILE: '{"type":"service_account"}' },
        { bucket: 'b1', region: 'us-east1', projectID: 'p1', keyID: 'k1' },
      ],
      [
        'azure',
        [
          'storage.azure.accountName=acct',
          'storage.azure.container=image-registry',
          'storage.azure.cloudName=AzureUSGovernmentCloud',
          `storage.azure.networkAccess=${JSON.stringify({ type: 'Internal', internal: { vnetName: 'vnet1', subnetName: 'subnet1' } })}`,
        ],
        { REGISTRY_STORAGE_AZURE_ACCOUNTKEY: 'azure-key' },
        { accountName: 'acct', container: 'image-registry', cloudName: 'AzureUSGovernmentCloud' },
      ],
      [
        'swift',
        [
          'storage.swift.authURL=https://keystone.example:5000/v3',
          'storage.swift.authVersion=3',
          'storage.swift.container=registry',
          'storage.swift.domain=Default',
          'storage.swift.domainID=default',
          'storage.swift.tenant=ci',
          'storage.swift.tenantID=abc123',
          'storage.swift.regionName=RegionOne',
        ],
        { REGISTRY_STORAGE_SWIFT_USERNAME: 'swift-user', REGISTRY_STORAGE_SWIFT_PASSWORD: 'swift-pass' },
        { authURL: 'https://keystone.example:5000/v3', container: 'registry', regionName: 'RegionOne' },
      ],
      [
        'ibmcos',
        [
          'storage.ibmcos.bucket=cos-bucket',
          'storage.ibmcos.location=us-south',
          'storage.ibmcos.resourceGroupName=rg',
          'storage.ibmcos.resourceKeyCRN=crn:v1:bluemix:public:cloud-object-storage:global:a/1:2:resource-key:3',
          'storage.ibmcos.serviceInstanceCRN=crn:v1:bluemix:public:cloud-object-storage:global:a/1:2::',
        ],
        { REGISTRY_STORAGE_IBMCOS_IAMAPIKEY: 'iam-key' },
        { bucket: 'cos-bucket', location: 'us-south', resourceGroupName: 'rg' },
      ],
      [
        'oss',
        [
          'storage.oss.bucket=oss-bucket',
          'storage.oss.region=cn-hangzhou',
          'storage.oss.endpointAccessibility=Public',
          'storage.oss.encryption.method=KMS',
          'storage.oss.encryption.kms.keyID=kms-1',
        ],
        { credentials: '[default]\ntype = access_key\naccess_key_id = id\naccess_key_secret = s\n' },
        {
          bucket: 'oss-bucket',
          endpointAccessibility: 'Public',
          encryption: { method: 'KMS', kms: { keyID: 'kms-1' } },
        },
      ],
    ];
    let previous = 'emptyDir';
    for (const [backend, settings, credentials, expected] of cases) {
      const result = await setRegistryConfig(admin, [`storage.${previous}=null`, ...settings], {
        credentials,
      });
      expect(result.applied, backend).toBe(true);
      expect(result.credentials?.keys, backend).toEqual(Object.keys(credentials));
      expect((await storage())[backend], backend).toMatchObject(expected);
      expect(
        Object.keys(await storage()).filter((key) => key !== 'managementState'),
        backend,
      ).toEqual([backend]);
      for (const [key, value] of Object.entries(credentials))
        expect(decoded(await secret(), key)).toBe(value);
      previous = backend;
    }
  });

  it('dry run prints the patch with the credentials key names and changes nothing', async () => {
    const before = (await config()).metadata.resourceVersion;
    const result = await setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.gcs.bucket=dry'], {
      dryRun: true,
      credentials: { REGISTRY_STORAGE_GCS_KEYFILE: 'dry-secret-json' },
    });
    expect(result).toMatchObject({ dryRun: true, applied: false });
    expect(result.patch.spec).toEqual({ storage: { emptyDir: null, gcs: { bucket: 'dry' } } });
    expect(result.credentials).toMatchObject({ action: 'create', keys: ['REGISTRY_STORAGE_GCS_KEYFILE'] });
    expect(JSON.stringify(result)).not.toContain('dry-secret-json');
    expect((await config()).metadata.resourceVersion).toBe(before);
    expect(await secret()).toBeUndefined();
  });

  it('undo after a storage change restores the previous storage', async () => {
    await setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.pvc.claim=shared', 'replicas=2']);
    expect(await storage()).toMatchObject({ pvc: { claim: 'shared' } });
    const undone = await undoRegistryConfig(admin);
    expect(undone.applied).toBe(true);
    expect(undone.patch.spec).toMatchObject({ storage: { pvc: null, emptyDir: {} }, replicas: 1 });
    const after = await storage();
    expect(after['pvc']).toBeUndefined();
    expect(after['emptyDir']).toEqual({});
    expect((await config()).spec.replicas).toBe(1);
  });

  it('refuses two backends, and says how to switch', async () => {
    const error = await failure(setRegistryConfig(admin, ['storage.gcs.bucket=b']));
    expect(error.code).toBe('STORAGE_REFUSED');
    expect(error.message).toBe(
      'storage refused: it would configure emptyDir and gcs, and the rule is exactly one storage backend (the operator reports an error when more than one is set).',
    );
    expect(error.hint).toBe('To switch backends, also set storage.emptyDir=null.');
    const none = await failure(setRegistryConfig(admin, ['storage.emptyDir=null']));
    expect(none.message).toBe(
      'storage refused: it would configure no storage backend, and the registry needs one.',
    );
  });

  it('refuses values the CRD does not allow, naming the field and the allowed values', async () => {
    const cases: [string, string][] = [
      [
        'storage.azure.cloudName=AzureMoonCloud',
        'storage.azure.cloudName must be one of AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, AzureGermanCloud, AzureStackCloud, not "AzureMoonCloud".',
      ],
      [
        'storage.azure.container=Bad_Name',
        'storage.azure.container must be 3 to 63 lower-case letters and digits, single dashes between them, not "Bad_Name".',
      ],
      [
        'storage.s3.chunkSizeMiB=4',
        'storage.s3.chunkSizeMiB must be a whole number from 5 to 5120, not "4".',
      ],
      ['storage.s3.encrypt=yes', 'storage.s3.encrypt must be true or false, not "yes".'],
      [
        'storage.managementState=Removed',
        'storage.managementState must be one of Managed, Unmanaged, not "Removed".',
      ],
      [
        'storage.oss.endpointAccessibility=Private',
        'storage.oss.endpointAccessibility must be one of Internal, Public, not "Private".',
      ],
      [
        'storage.ibmcos.resourceKeyCRN=abc',
        'storage.ibmcos.resourceKeyCRN must be a resource key CRN, crn:…:cloud-object-storage:…:resource-key:…, not "abc".',
      ],
      [
        'storage.s3.bukket=x',
        'Unknown setting "storage.s3.bukket": storage.s3 takes bucket, region, regionEndpoint, chunkSizeMiB, encrypt, keyID, virtualHostedStyle, trustedCA.name, cloudFront.',
      ],
      [
        'storage.nfs.path=/x',
        'Unknown setting "storage.nfs.path": storage takes managementState or one backend of emptyDir, pvc, s3, gcs, azure, swift, ibmcos, oss (storage.<backend>.<field>, or storage.<backend>=\'{}\' / =null).',
      ],
      ['storage.s3={"bucket":"b","encrypt":"yes"}', 'storage.s3.encrypt must be true or false, not "yes".'],
      [
        `storage.s3.cloudFront=${JSON.stringify({ baseURL: 'https://x' })}`,
        'storage.s3.cloudFront needs keypairID (the CRD requires baseURL, keypairID and privateKey).',
      ],
      [
        `storage.azure.networkAccess=${JSON.stringify({ type: 'External', internal: { vnetName: 'v' } })}`,
        "storage.azure.networkAccess.internal is forbidden when type is not Internal (the CRD's rule).",
      ],
      [
        'storage.emptyDir={"medium":"Memory"}',
        'storage.emptyDir takes no fields: give {} , not {"medium":"Memory"}.',
      ],
    ];
    for (const [setting, message] of cases) {
      const error = await failure(setRegistryConfig(admin, [setting]));
      expect(error.code, setting).toBe('OPTION_INVALID');
      expect(error.message, setting).toBe(message);
    }
  });

  it('refuses OSS KMS without a key, as the CRD rule does', async () => {
    const error = await failure(
      setRegistryConfig(admin, [
        'storage.emptyDir=null',
        'storage.oss.bucket=oss-b',
        'storage.oss.encryption.method=KMS',
      ]),
    );
    expect(error.code).toBe('STORAGE_REFUSED');
    expect(error.message).toMatch(/method KMS needs kms\.keyID/);
  });

  it("refuses credentials that are not the backend's documented keys, naming them", async () => {
    const error = await failure(
      setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.gcs.bucket=b'], {
        credentials: { REGISTRY_STORAGE_S3_ACCESSKEY: 'x' },
      }),
    );
    expect(error.code).toBe('OPTION_INVALID');
    expect(error.message).toBe(
      'REGISTRY_STORAGE_S3_ACCESSKEY is not a credential of gcs storage; image-registry-private-configuration-user takes REGISTRY_STORAGE_GCS_KEYFILE for it.',
    );
    const empty = await failure(
      setRegistryConfig(admin, ['logLevel=Debug'], { credentials: { REGISTRY_STORAGE_S3_ACCESSKEY: 'x' } }),
    );
    expect(empty.message).toBe(
      'emptyDir storage takes no credentials, but REGISTRY_STORAGE_S3_ACCESSKEY was given.',
    );
    expect(await secret()).toBeUndefined();
  });

  it('warns when a cloud backend has no credentials anywhere', async () => {
    const result = await setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.swift.container=c'], {
      dryRun: true,
    });
    expect(result.warnings).toContain(
      "No REGISTRY_STORAGE_SWIFT_USERNAME, REGISTRY_STORAGE_SWIFT_PASSWORD given and openshift-image-registry/image-registry-private-configuration-user has none: the operator then needs the cluster's own cloud credentials (installer-provisioned infrastructure).",
    );
  });

  it('PVC: warns under 100Gi, refuses a missing claim, refuses ReadWriteOnce with more than one replica', async () => {
    const small = await setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.pvc.claim=small'], {
      dryRun: true,
    });
    expect(small.warnings).toContain(
      "Claim small requests 20Gi: the documented size for the registry's claim is at least 100Gi; images fill a smaller volume quickly.",
    );
    const missing = await failure(
      setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.pvc.claim=nowhere']),
    );
    expect(missing.code).toBe('STORAGE_REFUSED');
    expect(missing.message).toBe(
      'storage.pvc.claim=nowhere refused: claim nowhere does not exist in openshift-image-registry, and the registry only mounts a claim of its own namespace.',
    );
    const block = await failure(
      setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.pvc.claim=block', 'replicas=2']),
    );
    expect(block.code).toBe('STORAGE_REFUSED');
    expect(block.message).toMatch(
      /^replicas=2 refused: claim block is ReadWriteOnce, and the rule is that more than one replica needs a ReadWriteMany claim/,
    );
    const defaultClaim = await setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.pvc={}'], {
      dryRun: true,
    });
    expect(defaultClaim.warnings.join('\n')).toMatch(/The operator will create claim image-registry-storage/);
  });

  it('emptyDir: warns it is not for production, and refuses more than one replica', async () => {
    await setRegistryConfig(admin, ['storage.emptyDir=null', 'storage.pvc.claim=shared']);
    const back = await setRegistryConfig(admin, ['storage.pvc=null', 'storage.emptyDir={}'], {
      dryRun: true,
    });
    expect(back.warnings).toContain(
      'emptyDir is for non-production clusters only: every image is lost when the registry pod restarts or moves to another node.',
    );
    const two = await failure(
      setRegistryConfig(admin, ['storage.pvc=null', 'storage.emptyDir={}', 'replicas=2']),
    );
    expect(two.code).toBe('STORAGE_REFUSED');
    expect(two.message).toMatch(/^replicas=2 refused: the registry uses emptyDir storage/);
  });
});

describe('the simulator validates spec.storage with the CRD schema', () => {
  it('answers 422 for values the real CRD rejects', async () => {
    const patches: Record<string, unknown>[] = [
      { azure: { container: 'Bad_Name' } },
      { s3: { chunkSizeMiB: 1 } },
      { managementState: 'Removed' },
      { oss: { encryption: { method: 'KMS' } } },
      { azure: { networkAccess: { type: 'External', internal: { vnetName: 'v1' } } } },
      { s3: { cloudFront: { baseURL: 'https://x' } } },
      { ibmcos: { resourceKeyCRN: 'abc' } },
    ];
    for (const patch of patches) {
      const error = await failure(
        admin.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
          spec: { storage: patch },
        }),
      );
      expect(error.code, JSON.stringify(patch)).toBe('INVALID');
    }
  });
});
