import type { IncomingHttpHeaders } from 'node:http';
import { registryNetworkError } from '../registry/registry-errors.js';
import { RegistryTransport, type ConnectionOptions } from '../registry/transport.js';

/** Options of {@link httpsGet}: where, with which trust, and the path and headers to send. */
export interface HttpsGetOptions extends Pick<
  ConnectionOptions,
  'host' | 'caPem' | 'tlsVerify' | 'connectTo' | 'timeoutMs'
> {
  path: string;
  headers?: Record<string, string>;
  /** What the request is for, as error messages say it (`read the metrics of`). */
  action: string;
}

/** A whole response. */
export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One GET to a registry endpoint outside the distribution API (metrics) on a private connection of the
 * registry transport, body read whole. Connection and TLS failures are the registry client's typed errors;
 * any HTTP status is returned, never thrown.
 */
export async function httpsGet(options: HttpsGetOptions): Promise<HttpsAnswer> {
  const { path, headers, action, ...connection } = options;
  const transport = new RegistryTransport({ ...connection, maxConnections: 1 });
  try {
    const response = await transport.send({
      method: 'GET',
      url: transport.url(path),
      headers: headers ?? {},
    });
    return { status: response.status, headers: response.headers, body: await response.body.text() };
  } catch (error) {
    throw registryNetworkError(error, { action, host: options.host });
  } finally {
    await transport.close();
  }
}
