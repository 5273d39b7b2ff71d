// The floor: what a push costs when it does nothing but upload. Every blob goes up at once as one
// monolithic PUT, with no existence checks, no digest verification, no retries and no progress; then the
// manifest. Nothing real should ship like this; it shows how close the native push comes to the wire.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';

interface Descriptor {
  digest: string;
  size: number;
  mediaType: string;
}

export async function floorPush(source: string, target: string, caPem: string): Promise<void> {
  const layout = source.replace(/^oci:/, '').replace(/:[^/:]*$/, '');
  const slash = target.indexOf('/');
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, slash);
  const repository = target.slice(slash + 1, colon);
  const tag = target.slice(colon + 1);
  const agent = new Agent({ connections: 64, allowH2: false, connect: { ca: [...rootCertificates, caPem] } });
  const origin = `https://${host}`;
  const blobPath = (digest: string): string => join(layout, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const top = index.manifests[0]!;
  const manifestBytes = await readFile(blobPath(top.digest));
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  await Promise.all(
    [manifest.config, ...manifest.layers].map(async (blob) => {
      const started = await agent.request({
        origin,
        path: `/v2/${repository}/blobs/uploads/`,
        method: 'POST',
      });
      await started.body.dump();
      const location = new URL(String(started.headers.location), origin);
      location.searchParams.set('digest', blob.digest);
      const put = await agent.request({
        origin,
        path: `${location.pathname}${location.search}`,
        method: 'PUT',
        headers: { 'content-length': String(blob.size), 'content-type': 'application/octet-stream' },
        body: createReadStream(blobPath(blob.digest), { highWaterMark: 1 << 20 }),
      });
      await put.body.dump();
      if (put.statusCode !== 201) throw new Error(`blob PUT answered ${put.statusCode}`);
    }),
  );
  const put = await agent.request({
    origin,
    path: `/v2/${repository}/manifests/${tag}`,
    method: 'PUT',
    headers: { 'content-type': top.mediaType },
    body: manifestBytes,
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`manifest PUT answered ${put.statusCode}`);
  await agent.close();
}
