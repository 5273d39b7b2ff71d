// The demo behind the README's Quick start. It grows with the project; today it walks the path every later
// piece automates: a simulated OpenShift cluster, its registry exposed through the default route (the merge
// patch the docs tell admins to run), a multi-arch push with skopeo as a project developer using an API token,
// and what the cluster recorded about it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { buildOciImage, makeWorkDir, removeWorkDir, runSkopeo } from '@registry-push/testkit';

const step = (text: string): void => {
  process.stdout.write(`==> ${text}\n`);
};

interface RouteStatus {
  spec: { host: string };
  status?: { ingress?: Array<{ conditions?: Array<{ type: string; status: string }> }> };
}

async function waitForAdmittedRoute(custom: CustomObjectsApi): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const route = (await custom.getNamespacedCustomObject({
        group: 'route.openshift.io',
        version: 'v1',
        namespace: 'openshift-image-registry',
        plural: 'routes',
        name: 'default-route',
      })) as RouteStatus;
      const admitted = route.status?.ingress?.some((i) =>
        i.conditions?.some((c) => c.type === 'Admitted' && c.status === 'True'),
      );
      if (admitted) return route.spec.host;
    } catch {
      // not created yet
    }
    if (Date.now() > deadline) throw new Error('the default route was not admitted within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const workDir = await makeWorkDir('demo');
  let cluster: RunningCluster | undefined;
  const stopAll = async (): Promise<void> => {
    await cluster?.stop();
    await removeWorkDir(workDir);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    step('starting a simulated OpenShift cluster on loopback (API server, operators, router, real registry)');
    cluster = await startCluster();
    step(
      `API server ${cluster.apiServer}, apps domain ${cluster.appsDomain}, router ${cluster.routerAddress}`,
    );

    step(
      'exposing the registry: merge patch {"spec":{"defaultRoute":true}} on configs.imageregistry/cluster',
    );
    const admin = new KubeConfig();
    admin.loadFromFile(cluster.kubeconfig);
    const custom = admin.makeApiClient(CustomObjectsApi);
    await custom.patchClusterCustomObject(
      {
        group: 'imageregistry.operator.openshift.io',
        version: 'v1',
        plural: 'configs',
        name: 'cluster',
        body: { spec: { defaultRoute: true } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const host = await waitForAdmittedRoute(custom);
    step(`route admitted: https://${host}`);

    step('building a reproducible two-platform OCI image (2 layers x 1 MiB each)');
    const image = await buildOciImage({
      outDir: join(workDir, 'image'),
      layers: 2,
      layerSize: 1024 * 1024,
      seed: 'demo',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    });

    // Through the route when its host resolves (root: /etc/hosts entries); otherwise to the registry
    // service directly, which skopeo can reach by address.
    const viaRoute = cluster.routerMode === 'hosts';
    const target = viaRoute ? host : cluster.registryServiceAddress;
    const certDir = join(workDir, 'certs');
    await mkdir(certDir, { mode: 0o700 });
    await writeFile(join(certDir, 'ca.crt'), viaRoute ? cluster.ingressCaPem : cluster.serviceCaPem);
    step(
      `pushing as "developer" with an API token to ${target}/demo/app:v1${viaRoute ? '' : ' (service address: not root, so route hosts do not resolve)'}`,
    );
    await runSkopeo([
      'copy',
      '--all',
      '--dest-cert-dir',
      certDir,
      '--dest-creds',
      `developer:${cluster.users['developer']?.token ?? ''}`,
      `oci:${image.layoutDir}:${image.tag}`,
      `docker://${target}/demo/app:v1`,
    ]);

    const stream = (await custom.getNamespacedCustomObject({
      group: 'image.openshift.io',
      version: 'v1',
      namespace: 'demo',
      plural: 'imagestreams',
      name: 'app',
    })) as {
      status: {
        dockerImageRepository: string;
        publicDockerImageRepository?: string;
        tags: Array<{ tag: string; items: Array<{ image: string }> }>;
      };
    };
    const recorded = stream.status.tags[0]?.items[0]?.image;
    if (recorded !== image.digest)
      throw new Error(`the cluster recorded ${String(recorded)}, expected ${image.digest}`);
    step(`ImageStream demo/app: tag v1 -> ${recorded}`);
    step(`  internal: ${stream.status.dockerImageRepository}`);
    step(`  public:   ${stream.status.publicDockerImageRepository ?? '(none)'}`);
    step('ok: the push is in the registry and recorded in the cluster');
  } finally {
    await stopAll();
    step('stopped the cluster and removed its files');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
