// The default IngressController's data path: TLS for every admitted route (the route's own certificate,
// else the ingress default), chosen by SNI; the request goes to the route's backend by its Host header,
// re-encrypted; hosts without an admitted route get the router's 503 page.
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateAndKey } from '@registry-push/testkit';
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import type { ObjectStore } from '../api/store.js';
import { admittedHost } from '../operator/registry-operator.js';

/** Where a route's traffic goes: a TLS backend and the CA and name to verify it with. */
export interface Backend {
  address: string;
  caPem: string;
  serverName: string;
}

/** What the router is built from. */
export interface RouterParts {
  store: ObjectStore;
  defaultCertificate: CertificateAndKey;
  /** The backend of a route, or undefined when its service has no endpoints. */
  backendFor: (route: JsonObject) => Backend | undefined;
}

const UNAVAILABLE_PAGE = `<html><head><title>Application is not available</title></head><body>
<h1>Application is not available</h1>
<p>The application is currently not serving requests at this endpoint. It may not have been started or is still starting.</p>
</body></html>
`;

function hostnameOf(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  return hostHeader.replace(/:\d+$/, '').toLowerCase();
}

const ROUTES = 'routes.route.openshift.io';

/** The router. */
export class Router {
  private server: Server | undefined;
  private readonly defaultContext: SecureContext;
  private readonly contexts = new Map<string, SecureContext>();

  constructor(private readonly parts: RouterParts) {
    this.defaultContext = createSecureContext({
      cert: parts.defaultCertificate.certPem,
      key: parts.defaultCertificate.keyPem,
    });
  }

  /** The admitted routes by host, as of a revision of the routes (see {@link routeFor}). */
  private routesByHost: { revision: number; byHost: Map<string, JsonObject> } | undefined;

  /**
   * The admitted route serving `host`, if any (the first in list order when several claim it). The table is
   * made again only when a route changed: every request asks, and listing (copying) every route for each
   * one was a tenth of the simulator's time under a prune's thousand registry requests a second. The route
   * returned is shared: read it, never change it.
   */
  routeFor(host: string): JsonObject | undefined {
    const revision = this.parts.store.revisionOf(ROUTES);
    if (this.routesByHost?.revision !== revision) {
      const byHost = new Map<string, JsonObject>();
      for (const route of this.parts.store.list(ROUTES)) {
        const admitted = admittedHost(route);
        if (admitted !== undefined && !byHost.has(admitted)) byHost.set(admitted, route);
      }
      this.routesByHost = { revision, byHost };
    }
    return this.routesByHost.byHost.get(host);
  }

  private contextFor(servername: string): SecureContext {
    const route = this.routeFor(servername.toLowerCase());
    const tls = objectAt(objectAt(route, 'spec'), 'tls');
    const cert = stringAt(tls, 'certificate');
    const key = stringAt(tls, 'key');
    if (cert === undefined || key === undefined || cert === '' || key === '') return this.defaultContext;
    const chain = `${cert.trimEnd()}\n${stringAt(tls, 'caCertificate') ?? ''}`;
    const cacheKey = `${chain}\n${key}`;
    let context = this.contexts.get(cacheKey);
    if (!context) {
      try {
        context = createSecureContext({ cert: chain, key });
      } catch {
        // An unusable route certificate: the real router falls back to the default certificate too.
        context = this.defaultContext;
      }
      this.contexts.set(cacheKey, context);
    }
    return context;
  }

  /** Listens on `host:port` (port 0 picks one); returns the bound address. */
  async listen(host: string, port: number): Promise<string> {
    const server = createServer(
      {
        SNICallback: (servername, callback) => callback(null, this.contextFor(servername)),
        cert: this.parts.defaultCertificate.certPem,
        key: this.parts.defaultCertificate.keyPem,
      },
      (req, res) => this.proxy(req, res),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return `${host}:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private unavailable(res: ServerResponse): void {
    res.writeHead(503, {
      'Content-Type': 'text/html',
      'Cache-Control': 'private, max-age=0, no-cache, no-store',
    });
    res.end(UNAVAILABLE_PAGE);
  }

  private proxy(req: IncomingMessage, res: ServerResponse): void {
    const host = hostnameOf(req.headers.host);
    const route = this.routeFor(host);
    const backend = route ? this.parts.backendFor(route) : undefined;
    if (!route || !backend) {
      this.unavailable(res);
      return;
    }
    const path = stringAt(objectAt(route, 'spec'), 'path') ?? '';
    if (path !== '' && !(req.url ?? '/').startsWith(path)) {
      this.unavailable(res);
      return;
    }
    const [address, port] = backend.address.split(':');
    const headers = { ...req.headers };
    headers['x-forwarded-host'] = req.headers.host ?? host;
    headers['x-forwarded-proto'] = 'https';
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const outgoing = httpsRequest(
      {
        host: address,
        port: Number(port),
        method: req.method,
        path: req.url,
        headers,
        ca: backend.caPem,
        servername: backend.serverName,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on('error', () => {
      if (!res.headersSent) this.unavailable(res);
      else res.destroy();
    });
    req.pipe(outgoing);
  }
}

/** Routes that send traffic to `<namespace>/<service>`. */
export function routesTo(route: JsonObject, namespace: string, service: string): boolean {
  const to = objectAt(objectAt(route, 'spec'), 'to');
  const meta = objectAt(route, 'metadata');
  return isJsonObject(to) && to['name'] === service && stringAt(meta, 'namespace') === namespace;
}
