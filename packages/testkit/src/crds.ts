/**
 * CustomResourceDefinitions of operators clusters commonly run (Tekton, Knative Serving, OLM, Argo
 * Rollouts), for a simulated cluster to serve (`startCluster({ customResourceDefinitions })`). Each has the
 * real group, version, kind, plural and scope, with a schema that keeps every field (as those projects'
 * own CRDs mostly do for their specs), so objects round-trip as written.
 */

/** The names of one custom resource kind. */
export interface CrdNames {
  group: string;
  version: string;
  kind: string;
  plural: string;
  scope?: 'Namespaced' | 'Cluster';
}

/**
 * An `apiextensions.k8s.io/v1` CustomResourceDefinition manifest (JSON text, which YAML readers take too)
 * with one served storage version, a status subresource and a schema preserving unknown fields.
 */
export function customResourceDefinition(names: CrdNames): string {
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${names.group}` },
    spec: {
      group: names.group,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.kind.toLowerCase(),
      },
      scope: names.scope ?? 'Namespaced',
      versions: [
        {
          name: names.version,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  });
}

/** The kinds of each operator, by the pruner's preset names. */
export const OPERATOR_CRDS: Readonly<
  Record<'tekton' | 'knative' | 'olm' | 'argo-rollouts', readonly CrdNames[]>
> = {
  tekton: [
    { group: 'tekton.dev', version: 'v1', kind: 'TaskRun', plural: 'taskruns' },
    { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun', plural: 'pipelineruns' },
  ],
  knative: [
    { group: 'serving.knative.dev', version: 'v1', kind: 'Service', plural: 'services' },
    { group: 'serving.knative.dev', version: 'v1', kind: 'Revision', plural: 'revisions' },
  ],
  olm: [
    {
      group: 'operators.coreos.com',
      version: 'v1alpha1',
      kind: 'ClusterServiceVersion',
      plural: 'clusterserviceversions',
    },
  ],
  'argo-rollouts': [{ group: 'argoproj.io', version: 'v1alpha1', kind: 'Rollout', plural: 'rollouts' }],
};

/** The CRD manifests of the named operators. */
export function operatorCrds(...operators: (keyof typeof OPERATOR_CRDS)[]): string[] {
  return operators.flatMap((operator) => OPERATOR_CRDS[operator].map(customResourceDefinition));
}
