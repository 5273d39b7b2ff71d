import { request as httpsRequest, type RequestOptions } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import type { RawRequest } from '@registry-push/testkit/contracts';

/** One HTTPS request to the API server of a kubeconfig, with its credentials and CA (for the contract's raw cases). */
export function rawRequester(
  kubeconfig: string,
): (request: RawRequest) => Promise<{ status: number; body: unknown }> {
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
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
}
