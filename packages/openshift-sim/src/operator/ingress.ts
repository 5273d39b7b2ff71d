// What the ingress operator leaves in a cluster: a router CA, a wildcard serving certificate for the apps
// domain (or an admin's custom default certificate), and the objects that publish them.
import { createCertificateAuthority, type CertificateAndKey } from '@registry-push/testkit';
import type { JsonObject } from '../json.js';
import { systemContext, type ControllerParts } from './system.js';

/** The certificate the router serves by default, and what clients should trust for it. */
export interface IngressMaterial {
  /** Leaf (and chain) the router serves for `*.<appsDomain>`. */
  serving: CertificateAndKey;
  /** PEM bundle a client adds to its roots to trust the router (the ingress CA, or the custom chain's CA). */
  trustBundle: string;
}

/** Options of {@link bootstrapIngress}. */
export interface IngressOptions {
  appsDomain: string;
  /** Use an admin-provided default certificate instead of the generated one (then router-certs-default does not exist). */
  customDefaultCertificate?: boolean;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** Creates the ingress CA and certificates and the objects the ingress operator publishes. */
export async function bootstrapIngress(
  parts: ControllerParts,
  options: IngressOptions,
): Promise<IngressMaterial> {
  const ctx = systemContext(parts, 'openshift-ingress-operator:ingress-operator');
  const { service, catalog } = parts;
  const create = (group: string, plural: string, namespace: string, object: JsonObject): void => {
    service.create(catalog.require(group, plural), namespace, object, {}, ctx);
  };
  const domain = options.appsDomain;
  const routerCa = await createCertificateAuthority(`ingress-operator@${Math.floor(Date.now() / 1000)}`);
  const generated = await routerCa.issue({
    commonName: `*.${domain}`,
    altNames: [`*.${domain}`, domain],
    validDays: 730,
  });
  create('', 'secrets', 'openshift-ingress-operator', {
    metadata: { name: 'router-ca' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64(routerCa.certPem), 'tls.key': b64(routerCa.keyPem) },
  });

  let serving: CertificateAndKey;
  let trustBundle: string;
  let defaultCertificate: JsonObject | undefined;
  if (options.customDefaultCertificate === true) {
    const corporate = await createCertificateAuthority('Example Corp Issuing CA');
    const leaf = await corporate.issue({
      commonName: `*.${domain}`,
      altNames: [`*.${domain}`, domain],
      validDays: 365,
    });
    serving = { certPem: leaf.certPem + corporate.certPem, keyPem: leaf.keyPem };
    trustBundle = corporate.certPem;
    create('', 'secrets', 'openshift-ingress', {
      metadata: { name: 'custom-default-certificate' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(serving.certPem), 'tls.key': b64(serving.keyPem) },
    });
    defaultCertificate = { name: 'custom-default-certificate' };
  } else {
    serving = { certPem: generated.certPem + routerCa.certPem, keyPem: generated.keyPem };
    trustBundle = routerCa.certPem;
    create('', 'secrets', 'openshift-ingress', {
      metadata: { name: 'router-certs-default' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(serving.certPem), 'tls.key': b64(serving.keyPem) },
    });
  }
  create('', 'configmaps', 'openshift-config-managed', {
    metadata: { name: 'default-ingress-cert' },
    data: { 'ca-bundle.crt': serving.certPem },
  });
  create('config.openshift.io', 'ingresses', '', { metadata: { name: 'cluster' }, spec: { domain } });
  const controllers = catalog.require('operator.openshift.io', 'ingresscontrollers');
  const controller = service.create(
    controllers,
    'openshift-ingress-operator',
    {
      metadata: { name: 'default' },
      spec: { replicas: 1, ...(defaultCertificate ? { defaultCertificate } : {}) },
    },
    {},
    ctx,
  ).object;
  service.update(
    { type: controllers, namespace: 'openshift-ingress-operator', name: 'default' },
    {
      ...controller,
      status: {
        domain,
        availableReplicas: 1,
        selector: 'ingresscontroller.operator.openshift.io/deployment-ingresscontroller=default',
      },
    },
    ctx,
    { subresource: 'status' },
  );
  return { serving, trustBundle };
}
