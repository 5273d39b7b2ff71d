import { stringify } from 'yaml';

/** A kubeconfig for one user of the simulated cluster. */
export function kubeconfigFor(options: {
  server: string;
  caPem: string;
  user: string;
  token: string;
  namespace?: string;
}): string {
  const cluster = 'openshift-sim';
  const context = `${options.user}@${cluster}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: {
          server: options.server,
          'certificate-authority-data': Buffer.from(options.caPem).toString('base64'),
        },
      },
    ],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [
      {
        name: context,
        context: {
          cluster,
          user: options.user,
          ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
        },
      },
    ],
    'current-context': context,
    preferences: {},
  });
}
