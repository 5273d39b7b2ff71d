import type { ClusterApi } from '../ports/cluster-api.js';
import type { DoctorCheck } from './doctor-check.js';

/**
 * How `oc policy add-role-to-user` names a subject: a service account of the same project with `-z`,
 * anyone else by the full user name (the same rule the push preflight uses).
 */
function policySubject(user: string | undefined, namespace: string): string {
  const who = user ?? '<user>';
  const [, , saNamespace, saName] = who.split(':');
  return who.startsWith('system:serviceaccount:') && saNamespace === namespace && saName !== undefined
    ? `-z ${saName}`
    : who;
}

/**
 * Whether the caller may pull from `namespace` through the registry: `get imagestreams/layers`, the access
 * the registry reviews for a pull, which system:image-puller and registry-viewer grant (and view does not).
 */
export async function pullPermissionCheck(
  client: ClusterApi,
  namespace: string,
  user: string | undefined,
): Promise<Omit<DoctorCheck, 'id' | 'title'>> {
  const mayPull = await client.canI({
    verb: 'get',
    resource: 'imagestreams',
    subresource: 'layers',
    group: 'image.openshift.io',
    namespace,
  });
  if (mayPull) return { status: 'pass', detail: `may pull from ${namespace} (get imagestreams/layers)` };
  return {
    status: 'fail',
    detail: `User "${user ?? '<user>'}" cannot pull from project "${namespace}": pulling needs the system:image-puller role (or registry-viewer, registry-editor, edit, admin) there.`,
    fix: `Ask a project admin to run \`oc policy add-role-to-user system:image-puller ${policySubject(user, namespace)} -n ${namespace}\`.`,
  };
}
