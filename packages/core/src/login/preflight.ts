import type { ClusterApi } from '../ports/cluster-api.js';
import { Resources } from '../cluster/resources.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';

/** What {@link preflightPush} found. */
export interface PushPreflight {
  username?: string;
  namespace: string;
  /** Whether the project could be read (some push-only roles cannot read it; the access review decides). */
  projectReadable: boolean;
}

/**
 * Before pushing, check from the caller's point of view that the project exists and that they may push to
 * it (`update imagestreams/layers`, what the registry checks), so a missing role is named up front instead
 * of surfacing as the registry's generic "authentication required".
 */
export async function preflightPush(client: ClusterApi, namespace: string): Promise<PushPreflight> {
  const username = await client.whoami().then(
    (identity) => identity.username,
    () => undefined,
  );
  let projectReadable = true;
  try {
    await client.get(Resources.namespace, namespace);
  } catch (error) {
    if (isRegistryPushError(error, 'NOT_FOUND')) {
      throw new RegistryPushError('PROJECT_NOT_FOUND', `The project "${namespace}" does not exist.`, {
        hint: `Create it (\`oc new-project ${namespace}\`) or fix the project part of the image name.`,
        details: { namespace },
      });
    }
    if (!isRegistryPushError(error, 'FORBIDDEN')) throw error;
    projectReadable = false;
  }
  const mayPush = await client.canI({
    verb: 'update',
    resource: 'imagestreams',
    subresource: 'layers',
    group: 'image.openshift.io',
    namespace,
  });
  if (!mayPush) {
    const who = username ?? '<user>';
    // A service account of the same project is named with -z; any other subject by its full user name.
    const [, , saNamespace, saName] = who.split(':');
    const subject =
      who.startsWith('system:serviceaccount:') && saNamespace === namespace && saName !== undefined
        ? `-z ${saName}`
        : who;
    throw new RegistryPushError(
      projectReadable ? 'PUSH_FORBIDDEN' : 'PROJECT_NOT_FOUND',
      projectReadable
        ? `User "${who}" cannot push to project "${namespace}": pushing needs the system:image-builder role (or registry-editor, edit, admin) there.`
        : `User "${who}" cannot see project "${namespace}" or push to it (it may not exist).`,
      {
        hint: `Ask a project admin to run \`oc policy add-role-to-user system:image-builder ${subject} -n ${namespace}\`.`,
        details: { namespace, ...(username === undefined ? {} : { user: username }) },
      },
    );
  }
  return { ...(username === undefined ? {} : { username }), namespace, projectReadable };
}
