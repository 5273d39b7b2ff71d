// Cluster access for the commands that need it; kept apart from context.ts so that a push with a token
// never loads the Kubernetes client.
import { ClusterClient, type ClusterAccessOptions, type ExposeProgress } from '@registry-push/core';
import type { Io } from './context.js';
import { stringOption, type Options } from './options.js';
import { tokenOption } from './context.js';

/** The cluster access the options describe (server + token, kubeconfig, or in-cluster). */
export function clusterAccess(options: Options, io: Io): ClusterAccessOptions {
  const server = stringOption(options, 'server');
  const token = tokenOption(options);
  const kubeconfig = stringOption(options, 'kubeconfig');
  const context = stringOption(options, 'context');
  return {
    env: io.env,
    ...(server === undefined ? {} : { server }),
    ...(server !== undefined && token !== undefined ? { token } : {}),
    ...(kubeconfig === undefined ? {} : { kubeconfig, kubeconfigName: '--kubeconfig' }),
    ...(context === undefined ? {} : { context }),
    ...(options['insecure-skip-tls-verify'] === true ? { insecureSkipTlsVerify: true } : {}),
  };
}

/** The cluster client the options describe (server + token, kubeconfig, or in-cluster). */
export function clusterClient(options: Options, io: Io): ClusterClient {
  return ClusterClient.fromOptions(clusterAccess(options, io));
}

/** Progress lines on stderr, tagged by step. */
export function progress(io: Io): (event: ExposeProgress) => void {
  return (event) => io.stderr(`[${event.step}] ${event.message}`);
}
