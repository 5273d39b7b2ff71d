// Route behaviour of openshift-apiserver on top of the CRD schema: the host is generated on create when
// empty, setting it explicitly needs `create routes/custom-host`, and an update cannot clear it.
import { objectAt, stringAt, type JsonObject } from '../json.js';
import type { StatusCause } from './status.js';
import type { RequestContext, Strategy } from './types.js';

/** `<name>-<namespace>.<appsDomain>`, dots in the name becoming dashes, as the host generator does. */
export function generatedRouteHost(name: string, namespace: string, appsDomain: string): string {
  return `${name.replaceAll('.', '-')}-${namespace}.${appsDomain}`;
}

function spec(object: JsonObject): JsonObject {
  const value = objectAt(object, 'spec') ?? {};
  object['spec'] = value;
  return value;
}

function mayUseCustomHost(ctx: RequestContext, verb: 'create' | 'update'): boolean {
  return ctx.authorizer.allows(ctx.user, {
    verb,
    group: 'route.openshift.io',
    resource: 'routes/custom-host',
    namespace: ctx.namespace,
  });
}

function hostForbidden(): StatusCause {
  return {
    reason: 'FieldValueForbidden',
    message: 'Forbidden: you do not have permission to set the host field of the route',
    field: 'spec.host',
  };
}

/** Route strategy (status is written by the router through `/status`). */
export const routeStrategy: Strategy = {
  prepareCreate(object, ctx) {
    object['status'] = {};
    const routeSpec = spec(object);
    const metadata: JsonObject = objectAt(object, 'metadata') ?? {};
    const host = stringAt(routeSpec, 'host') ?? '';
    // Only the server marks a host as generated; a client cannot claim it to skip the custom-host check.
    const clientAnnotations = objectAt(metadata, 'annotations');
    if (clientAnnotations) delete clientAnnotations['openshift.io/host.generated'];
    const tls = objectAt(routeSpec, 'tls');
    if (tls && typeof tls['termination'] === 'string') tls['termination'] = tls['termination'].toLowerCase();
    if (host === '' && (stringAt(routeSpec, 'subdomain') ?? '') === '') {
      routeSpec['host'] = generatedRouteHost(
        stringAt(metadata, 'name') ?? '',
        ctx.namespace,
        ctx.facts.appsDomain,
      );
      const annotations: JsonObject = objectAt(metadata, 'annotations') ?? {};
      annotations['openshift.io/host.generated'] = 'true';
      metadata['annotations'] = annotations;
    }
  },
  prepareUpdate(object, old) {
    const routeSpec = spec(object);
    if ((stringAt(routeSpec, 'host') ?? '') === '') {
      const oldHost = stringAt(objectAt(old, 'spec'), 'host');
      if (oldHost !== undefined) routeSpec['host'] = oldHost;
    }
  },
  validate(object, old, ctx) {
    const host = stringAt(objectAt(object, 'spec'), 'host') ?? '';
    const oldHost = stringAt(objectAt(old, 'spec'), 'host');
    const generated = stringAt(
      objectAt(objectAt(object, 'metadata'), 'annotations'),
      'openshift.io/host.generated',
    );
    if (old === undefined) {
      const explicit = host !== '' && generated !== 'true';
      return explicit && !mayUseCustomHost(ctx, 'create') ? [hostForbidden()] : [];
    }
    // Changing an existing host needs update on routes/custom-host (library-go's ValidateHostUpdate).
    if (oldHost !== undefined && oldHost !== '' && host !== oldHost && !mayUseCustomHost(ctx, 'update')) {
      return [
        {
          reason: 'FieldValueInvalid',
          message: `Invalid value: "${host}": field is immutable`,
          field: 'spec.host',
        },
      ];
    }
    return [];
  },
};
