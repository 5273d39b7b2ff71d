// The floor: what a push costs when it does nothing but upload. Every blob goes up at once as one
// monolithic PUT, with no existence checks, no digest verification, no retries and no progress; then the
// manifest. Nothing real should ship like this; it shows how close the native push comes to the wire.
// It uses Node's HTTP client, as the native push does, so the two differ only in what the push does.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

interface Descriptor {
  digest: string;
  size: number;
  mediaType: string;
}

/** `caPem` undefined: the registry speaks plain HTTP. */
export async function floorPush(source: string, target: string, caPem: string | undefined): Promise<void> {
  const layout = source.replace(/^oci:/, '').replace(/:[^/:]*$/, '');
  const slash = target.indexOf('/');
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, slash);
  const repository = target.slice(slash + 1, colon);
  const tag = target.slice(colon + 1);
  const agent =
    caPem === undefined
      ? new HttpAgent({ keepAlive: true, maxSockets: 64 })
      : new Agent({ keepAlive: true, maxSockets: 64, ca: [...rootCertificates, caPem] });
  const sendRequest = caPem === undefined ? httpRequest : request;
  const [hostname, port] = host.split(':');
  const send = (method: string, path: string, headers: Record<string, string>, body?: Buffer | Readable) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = sendRequest({
        agent,
        method,
        host: hostname,
        port: Number(port ?? 443),
        path,
        headers,
      });
      outgoing.on('error', reject);
      outgoing.on('response', resolve);
      if (body === undefined || Buffer.isBuffer(body)) outgoing.end(body);
      else body.pipe(outgoing);
    });
  const dump = async (response: IncomingMessage): Promise<void> => {
    for await (const _ of response);
  };
  const origin = `${caPem === undefined ? 'http' : 'https'}://${host}`;
  const blobPath = (digest: string): string => join(layout, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const top = index.manifests[0]!;
  const manifestBytes = await readFile(blobPath(top.digest));
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  await Promise.all(
    [manifest.config, ...manifest.layers].map(async (blob) => {
      const started = await send('POST', `/v2/${repository}/blobs/uploads/`, { 'content-length': '0' });
      await dump(started);
      const location = new URL(String(started.headers.location), origin);
      location.searchParams.set('digest', blob.digest);
      const put = await send(
        'PUT',
        `${location.pathname}${location.search}`,
        { 'content-length': String(blob.size), 'content-type': 'application/octet-stream' },
        createReadStream(blobPath(blob.digest), { highWaterMark: 1 << 20 }),
      );
      await dump(put);
      if (put.statusCode !== 201) throw new Error(`blob PUT answered ${String(put.statusCode)}`);
    }),
  );
  const put = await send(
    'PUT',
    `/v2/${repository}/manifests/${tag}`,
    { 'content-type': top.mediaType, 'content-length': String(manifestBytes.length) },
    manifestBytes,
  );
  await dump(put);
  if (put.statusCode !== 201) throw new Error(`manifest PUT answered ${String(put.statusCode)}`);
  agent.destroy();
}
