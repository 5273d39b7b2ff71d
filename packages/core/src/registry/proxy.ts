import { RegistryPushError } from '../errors.js';

/** The proxy configuration of one registry client, from the usual environment variables. */
export interface ProxySettings {
  /** Variables for the `proxyEnv` option of Node's agents, normalised (a bare `host:port` gets `http://`). */
  env: Record<string, string>;
  /** Whether a request to `url` goes through a proxy: one is set for its scheme and `NO_PROXY` skips it not. */
  proxies(url: URL): boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The first non-empty of the lowercase and uppercase forms, in that order, as Node reads them. */
function variable(env: Env, name: string): string | undefined {
  return [env[name.toLowerCase()], env[name.toUpperCase()]].find(
    (value): value is string => value !== undefined && value.trim() !== '',
  );
}

/** A proxy URL as Node's agent will use it, or why it cannot be used (never with the value itself). */
function proxyUrl(value: string): string | { problem: string } {
  const url = URL.parse(value.includes('://') ? value : `http://${value}`);
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    return { problem: 'is not an http:// or https:// URL' };
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return { problem: 'has a user name or password that is not percent-encoded correctly' };
  }
  return url.href;
}

/** Whether `NO_PROXY` names the host (and port) of `url`: `*`, exact names, domain suffixes, `host:port`. */
function bypassed(noProxy: string | undefined, url: URL): boolean {
  if (noProxy === undefined) return false;
  const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  return noProxy
    .split(/[,\s]+/)
    .filter((entry) => entry !== '')
    .some((entry) => {
      if (entry === '*') return true;
      const match = /^(.*?)(?::(\d+))?$/.exec(entry.replace(/^\[(.*)\]/, '$1'));
      const host = (match?.[1] ?? '').replace(/^\*?\./, '').toLowerCase();
      const entryPort = match?.[2];
      if (entryPort !== undefined && entryPort !== port) return false;
      return hostname === host || hostname.endsWith(`.${host}`);
    });
}

/**
 * Proxy settings from `env` (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, either case), or undefined when no
 * proxy is set. A proxy for the registry's own scheme that cannot be used is an error naming the variable
 * but not its value (it may hold a password); one for the other scheme is left out.
 */
export function proxySettings(env: Env, registryProtocol: 'http:' | 'https:'): ProxySettings | undefined {
  const proxies: Record<string, string> = {};
  for (const name of ['HTTPS_PROXY', 'HTTP_PROXY'] as const) {
    const value = variable(env, name);
    if (value === undefined) continue;
    const url = proxyUrl(value);
    if (typeof url === 'string') {
      proxies[name] = url;
    } else if ((name === 'HTTPS_PROXY') === (registryProtocol === 'https:')) {
      throw new RegistryPushError('OPTION_INVALID', `${name} ${url.problem}.`, {
        hint: 'Give the proxy as http://host:port (or http://user:password@host:port, with special characters percent-encoded), or unset the variable.',
      });
    }
  }
  if (Object.keys(proxies).length === 0) return undefined;
  const noProxy = variable(env, 'NO_PROXY');
  return {
    env: { ...proxies, ...(noProxy === undefined ? {} : { NO_PROXY: noProxy }) },
    proxies: (url) =>
      (url.protocol === 'https:' ? proxies['HTTPS_PROXY'] : proxies['HTTP_PROXY']) !== undefined &&
      !bypassed(noProxy, url),
  };
}
