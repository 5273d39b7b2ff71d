import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The service account files of a pod. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Whether any source of cluster access is there to try — an API server, a kubeconfig (given, in
 * `$KUBECONFIG`, or `~/.kube/config`), or a pod's service account — looked up the way `loadClusterAccess`
 * looks for them, but without loading the Kubernetes client. A command that can do without the cluster
 * (a push to a registry that takes anonymous pushes) asks this first: loading the client only to learn
 * that there is no kubeconfig cost more start-up time than the rest of a small push.
 */
export function clusterAccessGiven(
  options: { server?: string; kubeconfig?: string; env?: NodeJS.ProcessEnv } = {},
): boolean {
  const env = options.env ?? process.env;
  if (options.server !== undefined && options.server !== '') return true;
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') return true;
  if (env.KUBECONFIG?.split(':').some((path) => path !== '') === true) return true;
  if (existsSync(join(env.HOME ?? homedir(), '.kube', 'config'))) return true;
  return (
    env.KUBERNETES_SERVICE_HOST !== undefined &&
    env.KUBERNETES_SERVICE_PORT !== undefined &&
    existsSync(SERVICE_ACCOUNT_TOKEN)
  );
}
