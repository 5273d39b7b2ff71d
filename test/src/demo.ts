// The demo behind the README's Quick start. It grows with the project; today it shows the test bed every
// later piece stands on: a real TLS registry with credentials, a reproducible multi-arch image, and a push
// and read-back by digest with skopeo.
import { createHash } from 'node:crypto';
import {
  buildOciImage,
  makeWorkDir,
  removeWorkDir,
  runSkopeo,
  startRegistry,
  type RunningRegistry,
} from '@registry-push/testkit';

const step = (text: string): void => {
  process.stdout.write(`==> ${text}\n`);
};

async function main(): Promise<void> {
  const workDir = await makeWorkDir('demo');
  let registry: RunningRegistry | undefined;
  const stopAll = async (): Promise<void> => {
    await registry?.stop();
    await removeWorkDir(workDir);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    step('building a reproducible two-platform OCI image (2 layers x 1 MiB each)');
    const image = await buildOciImage({
      outDir: workDir,
      layers: 2,
      layerSize: 1024 * 1024,
      seed: 'demo',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    });
    step(`image index ${image.digest} (${image.blobBytes} bytes of blobs)`);

    step('starting a distribution registry on 127.0.0.1 with TLS from a throwaway CA and htpasswd auth');
    const password = createHash('sha256').update(String(process.hrtime.bigint())).digest('hex');
    registry = await startRegistry({ tls: true, auth: { username: 'demo', password } });
    step(`registry at https://${registry.host}`);

    step('pushing every platform with skopeo');
    const target = `docker://${registry.host}/demo/app:v1`;
    await runSkopeo([
      'copy',
      '--all',
      '--dest-cert-dir',
      registry.certDir ?? '',
      '--dest-creds',
      `demo:${password}`,
      `oci:${image.layoutDir}:${image.tag}`,
      target,
    ]);

    step('reading the index back by digest');
    const { stdout } = await runSkopeo([
      'inspect',
      '--raw',
      '--cert-dir',
      registry.certDir ?? '',
      '--creds',
      `demo:${password}`,
      `docker://${registry.host}/demo/app@${image.digest}`,
    ]);
    const served = `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
    if (served !== image.digest) throw new Error(`registry served ${served}, expected ${image.digest}`);
    step(`ok: ${registry.host}/demo/app@${served} matches what was built`);
  } finally {
    await stopAll();
    step('stopped the registry and removed its files');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
