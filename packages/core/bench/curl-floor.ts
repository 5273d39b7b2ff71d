// The curl floor: what the wire and the registry cost, with a client that does nothing else. One curl
// process per blob, all at once: a POST to open the upload, then one monolithic `PUT ?digest=` streaming
// the file (`-T`, no `Expect: 100-continue` round trip); then the manifest PUT. No existence checks, no
// retries, no verification on the client (the registry checks the digest of every PUT). It is the
// reference the `registry-push push` command is measured against.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface Descriptor {
  digest: string;
  size: number;
  mediaType: string;
}

/** Run curl; resolve its stdout, reject on a non-zero exit. */
function curl(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`curl exited ${String(code)}: ${stderr.trim()}`)),
    );
  });
}

/** What the floor pushes, read before the clock starts (the other tools read it themselves, but it is tiny). */
export interface CurlFloorPlan {
  blobs: Array<{ digest: string; file: string }>;
  manifest: { file: string; mediaType: string };
}

export async function curlFloorPlan(layout: string): Promise<CurlFloorPlan> {
  const blobFile = (digest: string): string => join(layout, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const top = index.manifests[0]!;
  const manifest = JSON.parse(await readFile(blobFile(top.digest), 'utf8')) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  return {
    blobs: [manifest.config, ...manifest.layers].map((blob) => ({
      digest: blob.digest,
      file: blobFile(blob.digest),
    })),
    manifest: { file: blobFile(top.digest), mediaType: top.mediaType },
  };
}

/** Push the plan to `origin` (`http(s)://host:port`) as `repository:tag`; `caFile` for https. */
export async function curlFloorPush(
  plan: CurlFloorPlan,
  origin: string,
  repository: string,
  tag: string,
  caFile: string | undefined,
): Promise<void> {
  const tls = caFile === undefined ? [] : ['--cacert', caFile];
  await Promise.all(
    plan.blobs.map(async (blob) => {
      const headers = await curl([
        ...tls,
        '-X',
        'POST',
        '-o',
        '/dev/null',
        '-D',
        '-',
        `${origin}/v2/${repository}/blobs/uploads/`,
      ]);
      const location = /^location:\s*(\S+)/im.exec(headers)?.[1];
      if (location === undefined) throw new Error('the registry gave no upload location');
      const url = new URL(location, origin);
      url.searchParams.set('digest', blob.digest);
      const status = await curl([
        ...tls,
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        'Expect:',
        '-H',
        'content-type: application/octet-stream',
        '-T',
        blob.file,
        url.href,
      ]);
      if (status !== '201') throw new Error(`blob PUT answered ${status}`);
    }),
  );
  const status = await curl([
    ...tls,
    '-X',
    'PUT',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-H',
    `content-type: ${plan.manifest.mediaType}`,
    '--data-binary',
    `@${plan.manifest.file}`,
    `${origin}/v2/${repository}/manifests/${tag}`,
  ]);
  if (status !== '201') throw new Error(`manifest PUT answered ${status}`);
}
