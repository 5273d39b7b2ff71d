import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import type { RawAnswer, RawRequest } from '@registry-push/testkit/contracts';

/** The texts of `Warning` headers (`299 - "text"`); node joins repeated headers with ", ". */
function warningsOf(header: string | undefined): string[] {
  if (header === undefined) return [];
  return [...header.matchAll(/\d{3} \S+ ("(?:[^"\\]|\\.)*")/g)].map(
    (m) => JSON.parse(m[1] ?? '""') as string,
  );
}

/** One HTTPS request to the API server of a kubeconfig, with its credentials and CA (for the contract's raw cases). */
export function rawRequester(kubeconfig: string): (request: RawRequest) => Promise<RawAnswer> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const server = new URL(config.getCurrentCluster()?.server ?? '');
  return async ({ method, path, body, contentType }) => {
    const options: RequestOptions = {};
    await config.applyToHTTPSOptions(options);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          ...options,
          hostname: server.hostname,
          port: server.port === '' ? 443 : Number(server.port),
          method,
          path: `${server.pathname.replace(/\/$/, '')}${path}`,
          headers: {
            ...(options.headers ?? {}),
            Accept: 'application/json',
            ...(contentType === undefined ? {} : { 'Content-Type': contentType }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: kept as text
            }
            resolve({
              status: response.statusCode ?? 0,
              body: parsed,
              warnings: warningsOf(response.headers.warning),
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
}
