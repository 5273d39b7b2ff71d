// The bad-input table: every way a user can get the CLI, the action or the pruner wrong, run as the user runs
// them (the CLI and the pruner from their bins, the action's bundle as the GitHub runner runs it), against one
// simulated cluster with its real registry and one real Redis. Each row must fail with a non-zero exit, one
// message line that says what happened and what to do, the right error code, no stack trace and no secret
// anywhere in what the run printed or left for later steps.
//
// It began as the findings of an adversarial review (issue 18), each row written before its fix.
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  createCertificateAuthority,
  makeWorkDir,
  removeWorkDir,
  startRedis,
  startRegistry,
  type RunningRedis,
  type RunningRegistry,
} from '@registry-push/testkit';

import {
  inBatches,
  leakForms,
  problemsOf,
  registryPrunerBin,
  registryPushBin,
  runAction,
  runScript,
  type Expectation,
  type RunResult,
} from '../src/bad-input.js';

/** What the rows need: the cluster, its users, files to point at, and addresses that answer nothing. */
interface Ctx {
  work: string;
  cluster: RunningCluster;
  redisUrl: string;
  /** The registry's default route host. */
  host: string;
  /** The ingress CA that makes the route trusted. */
  ca: string;
  caPem: string;
  /** `oci:<layout>` of a small image. */
  image: string;
  layoutDir: string;
  kubeconfig: { admin: string; developer: string; viewer: string };
  token: { admin: string; developer: string; viewer: string };
  /** A well-formed token that no server knows. */
  fakeToken: string;
  /** The viewer's kubeconfig as one line of JSON (kubeconfig content rather than a path). */
  oneLineKubeconfig: string;
  /** A loopback port nothing listens on. */
  closedPort: number;
  /** A regular file, to put directories under (ENOTDIR). */
  plainFile: string;
  /** A directory. */
  dir: string;
  badYaml: string;
  expiredCa: string;
  otherCa: string;
  /** `oci:<layout>` whose manifest gives a pushed layer a size that is not its size. */
  sizeMismatchImage: string;
  basicRegistry: RunningRegistry;
  basicPassword: string;
  basicImage: string;
}

interface Row {
  name: string;
  program: Expectation['program'];
  /** argv of the CLI or the pruner. */
  args?: (c: Ctx) => string[];
  /** Inputs of the action. */
  inputs?: (c: Ctx) => Record<string, string>;
  env?: (c: Ctx) => NodeJS.ProcessEnv;
  code: Expectation['code'];
  says?: RegExp;
  warns?: RegExp;
  /** Secrets of this row besides the cluster's tokens. */
  secrets?: (c: Ctx) => string[];
  /** The run ends well (a correct input that was refused); only leaks and stack traces are checked. */
  succeeds?: boolean;
  /** Seconds before a run counts as hung. */
  timeout?: number;
}

const pem = (c: Ctx): string => c.caPem;
const target = (c: Ctx, project = 'demo', name = 'app'): string => `${c.host}/${project}/${name}`;
const unreachable = (c: Ctx): string => `https://127.0.0.1:${String(c.closedPort)}`;

// ---------------------------------------------------------------------------------------------------------
// registry-push
// ---------------------------------------------------------------------------------------------------------
const CLI: Row[] = [
  // Usage mistakes: caught while parsing, exit 2.
  {
    name: 'an unknown command',
    program: 'registry-push',
    args: () => ['bogus'],
    code: 'usage',
    says: /unknown command "bogus"/i,
  },
  {
    name: 'an unknown option',
    program: 'registry-push',
    args: () => ['push', '--frobnicate'],
    code: 'usage',
    says: /--frobnicate/,
  },
  {
    name: 'an unknown --expose mode',
    program: 'registry-push',
    args: () => ['all', '--expose', 'weird'],
    code: 'usage',
    says: /--expose must be one of auto, default-route, custom-route, none, not "weird"/,
  },
  {
    name: 'an unknown --trust place',
    program: 'registry-push',
    args: () => ['all', '--trust', 'everywhere'],
    code: 'usage',
    says: /--trust must be one of registry, docker, system, none/,
  },
  {
    name: '--tls-verify that is not true or false',
    program: 'registry-push',
    args: () => ['push', '--tls-verify', 'maybe'],
    code: 'usage',
    says: /--tls-verify must be one of true, false/,
  },
  {
    name: 'an unknown --push-tool',
    program: 'registry-push',
    args: () => ['push', '--push-tool', 'vim'],
    code: 'usage',
    says: /--push-tool must be one of native/,
  },
  {
    name: 'an unknown --login-tool',
    program: 'registry-push',
    args: () => ['login', '--login-tool', 'vim'],
    code: 'usage',
    says: /--login-tool must be one of skopeo/,
  },
  {
    name: 'an unknown --output format',
    program: 'registry-push',
    args: () => ['status', '--output', 'yaml'],
    code: 'usage',
    says: /--output must be one of text, json/,
  },
  {
    name: 'an unknown --rollout-strategy',
    program: 'registry-push',
    args: () => ['enable', '--rollout-strategy', 'Sometimes'],
    code: 'usage',
    says: /--rollout-strategy must be one of RollingUpdate, Recreate/,
  },
  {
    name: 'an argument too many for push',
    program: 'registry-push',
    args: (c) => ['push', c.image, target(c), 'extra'],
    code: 'usage',
    says: /unexpected argument "extra"/i,
  },
  {
    name: 'enable without --storage',
    program: 'registry-push',
    args: (c) => ['enable', '--kubeconfig', c.kubeconfig.admin],
    code: 'usage',
    says: /--storage is required/,
  },
  {
    name: 'enable with an unknown storage kind',
    program: 'registry-push',
    args: (c) => ['enable', '--kubeconfig', c.kubeconfig.admin, '--storage', 'floppy'],
    code: 'usage',
    says: /--storage must be emptydir, pvc, pvc=CLAIM, s3, gcs, azure, swift, ibmcos or oss, not "floppy"/,
  },
  {
    name: 'enable with --replicas that is not a number',
    program: 'registry-push',
    args: (c) => ['enable', '--kubeconfig', c.kubeconfig.admin, '--storage', 'emptydir', '--replicas', 'abc'],
    code: 'usage',
    says: /--replicas must be a whole number from 1 to 100, not "abc"/,
  },
  {
    name: 'enable with an option of another storage kind',
    program: 'registry-push',
    args: (c) => ['enable', '--kubeconfig', c.kubeconfig.admin, '--storage', 'emptydir', '--bucket', 'b'],
    code: 'usage',
    says: /--bucket does not apply to emptydir storage/i,
  },
  {
    name: 'push with --retries that is not a number',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, '--retries', 'abc', c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'usage',
    says: /--retries must be a whole number from 0 to 10, not "abc"/,
  },
  {
    name: 'expose with --timeout that is not a number',
    program: 'registry-push',
    args: (c) => ['expose', '--kubeconfig', c.kubeconfig.admin, '--timeout', 'soon'],
    code: 'usage',
    says: /--timeout must be a whole number from 1 to 3600, not "soon"/,
  },

  // Options and sources.
  {
    name: 'push without a source',
    program: 'registry-push',
    args: () => ['push'],
    code: 'OPTION_INVALID',
    says: /No source to push/,
  },
  {
    name: 'push without a target',
    program: 'registry-push',
    args: (c) => ['push', c.image],
    code: 'OPTION_INVALID',
    says: /No push target: give HOST\/PROJECT\/NAME/,
  },
  {
    name: 'push of an unknown source transport',
    program: 'registry-push',
    args: (c) => ['push', 'bogus:thing', target(c)],
    code: 'SOURCE_INVALID',
    says: /does not name a source transport/,
  },
  {
    name: 'push of an OCI layout that does not exist',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, `oci:${c.work}/no-such-layout`, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'SOURCE_NOT_FOUND',
    says: /no-such-layout does not exist/,
  },
  {
    name: 'push to a target that is not an image reference',
    program: 'registry-push',
    args: (c) => ['push', c.image, 'not a ref'],
    code: 'REFERENCE_INVALID',
    says: /"not a ref" is not a valid image reference/,
  },
  {
    name: 'push to an image name with capitals',
    program: 'registry-push',
    args: (c) => ['push', c.image, target(c, 'demo', 'Bad_Name')],
    code: 'REFERENCE_INVALID',
    says: /"Bad_Name" is not a valid path component/,
  },
  {
    name: 'push with a tag that is not a tag',
    program: 'registry-push',
    args: (c) => ['push', c.image, target(c), '--tags', 'bad tag!'],
    code: 'REFERENCE_INVALID',
    says: /"bad tag!" is not a valid tag/,
  },
  {
    name: 'push with a --ca-file that does not exist',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', `${c.work}/no-ca.pem`, c.image, target(c)],
    code: 'OPTION_INVALID',
    says: /--ca-file .*no-ca\.pem cannot be read \(ENOENT\)/,
  },
  {
    name: 'push with a --token-file that does not exist',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, '--token-file', `${c.work}/no-token`, c.image, target(c)],
    code: 'OPTION_INVALID',
    says: /--token-file .*no-token cannot be read \(ENOENT\)/,
  },
  {
    name: 'push with a --token-file that is a directory',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, '--token-file', c.dir, c.image, target(c)],
    code: 'OPTION_INVALID',
    says: /--token-file .* cannot be read \(EISDIR\)/,
  },
  {
    name: 'push with a token the registry does not know',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'TOKEN_REJECTED',
    says: /refused the token.*get a fresh one/,
  },
  {
    name: 'push with no credentials at all',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, c.image, target(c)],
    code: 'REGISTRY_UNAUTHORIZED',
    says: /needs credentials\. Log in first/,
  },
  {
    name: 'push as a user who may only view the project',
    program: 'registry-push',
    args: (c) => ['push', '--kubeconfig', c.kubeconfig.viewer, '--ca-file', c.ca, c.image, target(c)],
    code: 'REGISTRY_DENIED',
    says: /system:image-builder/,
  },
  {
    name: 'push to a project that does not exist, registry host given',
    program: 'registry-push',
    args: (c) => [
      'push',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      c.image,
      target(c, 'no-such-project'),
    ],
    code: 'REGISTRY_DENIED',
    says: /the project must exist/,
  },
  {
    name: 'push without the registry CA',
    program: 'registry-push',
    args: (c) => ['push', c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'REGISTRY_TLS_UNTRUSTED',
    says: /is not trusted.*Give the registry CA/,
  },
  {
    name: 'push with an --authfile that has no login for the host',
    program: 'registry-push',
    args: (c) => [
      'push',
      '--ca-file',
      c.ca,
      '--authfile',
      join(c.work, 'empty-auth.json'),
      c.image,
      target(c),
    ],
    code: 'OPTION_INVALID',
    says: /holds no credentials for/,
  },
  {
    name: 'push with a username that holds ":"',
    program: 'registry-push',
    args: (c) => ['push', '--username', 'ci:bot', '--ca-file', c.ca, c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'USERNAME_INVALID',
    says: /contains ":"/,
  },
  {
    name: 'push with --ca-data that is not a certificate',
    program: 'registry-push',
    args: (c) => ['push', '--ca-data', 'not a certificate', c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'CA_INVALID',
    says: /holds no PEM certificate/,
  },
  {
    name: 'push with --concurrency 0',
    program: 'registry-push',
    args: (c) => ['push', '--concurrency', '0', '--ca-file', c.ca, c.image, target(c)],
    code: 'usage',
    says: /--concurrency must be a whole number from 1 to 32, not "0"/,
  },
  {
    name: 'push with a --kubeconfig that does not exist',
    program: 'registry-push',
    args: (c) => ['push', '--kubeconfig', `${c.work}/no-kubeconfig`, '--ca-file', c.ca, c.image, target(c)],
    code: 'KUBECONFIG_INVALID',
    says: /does not exist\. Check the --kubeconfig path/,
  },
  {
    name: 'a kubeconfig that is not YAML',
    program: 'registry-push',
    args: (c) => ['status', '--kubeconfig', c.badYaml],
    code: 'KUBECONFIG_INVALID',
    says: /kubeconfig/i,
  },
  {
    name: 'a kubeconfig context that does not exist',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--context',
      'nosuch',
      '-n',
      'demo',
      '--image',
      'app',
      '--source',
      c.image,
    ],
    code: 'KUBECONFIG_INVALID',
    says: /no context "nosuch"\. Use one of: developer@/,
  },
  {
    name: 'no cluster credentials at all',
    program: 'registry-push',
    args: (c) => ['all', '-n', 'demo', '--image', 'app', '--source', c.image],
    code: 'KUBECONFIG_MISSING',
    says: /kubeconfig/i,
  },
  {
    name: 'a --server that is not a URL',
    program: 'registry-push',
    args: (c) => ['all', '--server', 'not-a-url', '-n', 'demo', '--image', 'app', '--source', c.image],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'KUBECONFIG_INVALID',
    says: /"not-a-url" is not a URL/,
  },
  {
    name: 'a --server that is not https',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--server',
      'ftp://api.example.com',
      '-n',
      'demo',
      '--image',
      'app',
      '--source',
      c.image,
    ],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'KUBECONFIG_INVALID',
    says: /must use https/,
  },
  {
    name: 'a --server without its CA',
    program: 'registry-push',
    args: (c) => ['status', '--server', c.cluster.apiServer],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.admin }),
    code: 'CLUSTER_TLS_UNTRUSTED',
  },
  {
    name: 'an API token the cluster does not know',
    program: 'registry-push',
    args: (c) => ['status', '--server', c.cluster.apiServer, '--insecure-skip-tls-verify'],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'TOKEN_INVALID',
  },
  {
    name: 'an image name with a space',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      '-n',
      'demo',
      '--image',
      'Bad Name',
      '--source',
      c.image,
    ],
    code: 'REFERENCE_INVALID',
    says: /"Bad Name" is not a valid path component/,
  },
  {
    name: 'all with a username that has a colon',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      '-n',
      'demo',
      '--image',
      'app',
      '--source',
      c.image,
      '--username',
      'a:b',
    ],
    code: 'USERNAME_INVALID',
    says: /contains ":"/,
  },
  {
    name: 'login with a username that has a colon',
    program: 'registry-push',
    args: (c) => [
      'login',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      '--registry',
      c.host,
      '--username',
      'a:b',
    ],
    code: 'USERNAME_INVALID',
    says: /Use a username without a colon/,
  },
  {
    name: 'all as a user without push rights',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--kubeconfig',
      c.kubeconfig.viewer,
      '--ca-file',
      c.ca,
      '-n',
      'demo',
      '--image',
      'app',
      '--source',
      c.image,
    ],
    code: 'PUSH_FORBIDDEN',
    says: /cannot push to project "demo".*oc policy add-role-to-user system:image-builder viewer -n demo/,
  },
  {
    name: 'login with a token the registry does not know',
    program: 'registry-push',
    args: (c) => ['login', '--ca-file', c.ca, '--registry', c.host],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'TOKEN_REJECTED',
    says: /refused the token/,
  },
  {
    name: 'trust with --ca-data that is not PEM',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-data',
      'garbage',
    ],
    code: 'CA_INVALID',
    says: /holds no PEM certificate/,
  },
  {
    name: 'trust with a PEM block that is not a certificate',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-data',
      '-----BEGIN CERTIFICATE-----\nzzzz\n-----END CERTIFICATE-----',
    ],
    code: 'CA_INVALID',
    says: /does not parse as X\.509/,
  },
  {
    name: 'trust with a --ca-file that is not PEM',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      join(c.layoutDir, 'index.json'),
    ],
    code: 'CA_INVALID',
    says: /holds no PEM certificate/,
  },
  {
    name: 'trust with an expired CA',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      c.expiredCa,
    ],
    code: ['CERT_EXPIRED', 'CA_MISMATCH'],
  },
  {
    name: 'trust with a CA that did not sign the route',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      c.otherCa,
    ],
    code: 'CA_MISMATCH',
  },
  {
    name: 'status as a user who may not read the registry config',
    program: 'registry-push',
    args: (c) => ['status', '--kubeconfig', c.kubeconfig.viewer],
    code: 'FORBIDDEN',
    says: /cluster-reader or cluster-admin/,
  },
  {
    name: 'logout without --authfile',
    program: 'registry-push',
    args: () => ['logout'],
    code: 'OPTION_INVALID',
    says: /--authfile is required/,
  },
  {
    name: 'expose --revert of a file that does not exist',
    program: 'registry-push',
    args: (c) => ['expose', '--kubeconfig', c.kubeconfig.admin, '--revert', `${c.work}/no-such.json`],
    code: 'OPTION_INVALID',
    says: /is not a readable JSON result/,
  },
  {
    name: 'kubeconfig content as one line of JSON is read as content',
    program: 'registry-push',
    args: (c) => ['status', '--kubeconfig', c.oneLineKubeconfig],
    code: 'FORBIDDEN',
    secrets: (c) => [c.oneLineKubeconfig],
  },
  {
    name: 'kubeconfig content that does not parse',
    program: 'registry-push',
    args: (c) => ['status', '--kubeconfig', c.oneLineKubeconfig.slice(0, -1)],
    code: 'KUBECONFIG_INVALID',
    says: /could not be parsed/,
    secrets: (c) => [c.oneLineKubeconfig.slice(0, -1)],
  },
  {
    name: 'enable as a user who is not a cluster admin',
    program: 'registry-push',
    args: (c) => ['enable', '--kubeconfig', c.kubeconfig.developer, '--storage', 'emptydir'],
    code: ['ENABLE_FORBIDDEN', 'FORBIDDEN'],
  },

  // Issue 18.
  {
    name: 'kubeconfig content on one line as --kubeconfig does not show the token',
    program: 'registry-push',
    args: (c) => [
      'status',
      '--kubeconfig',
      `apiVersion: v1, kind: Config, users: [{name: viewer, user: {token: ${c.token.viewer}}}]`,
    ],
    code: 'KUBECONFIG_INVALID',
  },
  {
    name: '--tls-verify false with a token warns that the token goes to whoever answers',
    program: 'registry-push',
    args: (c) => ['push', '--tls-verify', 'false', c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.viewer }),
    code: 'REGISTRY_DENIED',
    warns: /warning: .*tls-verify/i,
  },
  {
    name: '--tls-verify false together with --ca-file',
    program: 'registry-push',
    args: (c) => ['push', '--tls-verify', 'false', '--ca-file', c.ca, c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'OPTION_INVALID',
    says: /--tls-verify.*--ca-file|--ca-file.*--tls-verify/,
  },
  {
    name: '--token together with --token-file',
    program: 'registry-push',
    args: (c) => ['push', '--token', c.fakeToken, '--token-file', c.ca, c.image, target(c)],
    code: 'OPTION_INVALID',
    says: /--token.*--token-file|--token-file.*--token/,
  },
  {
    name: '--ca-file together with --ca-data',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, '--ca-data', pem(c), c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'OPTION_INVALID',
    says: /--ca-file.*--ca-data|--ca-data.*--ca-file/,
  },
  {
    name: '--plain-http together with --ca-file',
    program: 'registry-push',
    args: (c) => ['push', '--plain-http', '--ca-file', c.ca, c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'OPTION_INVALID',
    says: /--plain-http.*--ca-file|--ca-file.*--plain-http/,
  },
  {
    name: 'a parallel push to a registry with Basic auth (correct credentials) succeeds',
    program: 'registry-push',
    args: (c) => [
      'push',
      '--username',
      'ci-bot',
      '--ca-data',
      c.basicRegistry.caPem ?? '',
      '--concurrency',
      '4',
      c.basicImage,
      `${c.basicRegistry.host}/team/app:v1`,
    ],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.basicPassword }),
    code: 'usage',
    succeeds: true,
    secrets: (c) => leakForms(c.basicPassword, ['ci-bot']),
  },
  {
    name: 'login --ca-file --cert-dir --login-tool skopeo hands the CA to skopeo',
    program: 'registry-push',
    args: (c) => [
      'login',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      c.ca,
      '--cert-dir',
      join(c.work, 'login-certs'),
      '--authfile',
      join(c.work, 'login-auth.json'),
      '--login-tool',
      'skopeo',
    ],
    code: 'usage',
    succeeds: true,
  },
  {
    name: 'all against an API server that does not answer',
    program: 'registry-push',
    args: (c) => ['all', '--server', unreachable(c), '-n', 'demo', '--image', 'app', '--source', c.image],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'CLUSTER_UNREACHABLE',
    says: /Could not reach https:\/\/127\.0\.0\.1:\d+/,
  },
  // Node's fetch refuses some ports outright ("bad port": 1, 9, 6000, ...); the failure escapes as API_ERROR.
  {
    name: 'all against an API server on a port that fetch refuses to dial',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--server',
      'https://127.0.0.1:1',
      '-n',
      'demo',
      '--image',
      'app',
      '--source',
      c.image,
    ],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'CLUSTER_UNREACHABLE',
  },
  {
    name: 'status against an API server that does not answer',
    program: 'registry-push',
    args: (c) => ['status', '--server', unreachable(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.fakeToken }),
    code: 'CLUSTER_UNREACHABLE',
  },
  {
    name: 'all to a project that does not exist',
    program: 'registry-push',
    args: (c) => [
      'all',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      '-n',
      'no-such-project',
      '--image',
      'app',
      '--source',
      c.image,
    ],
    code: 'PROJECT_NOT_FOUND',
    says: /no-such-project/,
  },
  {
    name: 'push of an oci-archive that is a directory',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, `oci-archive:${c.layoutDir}`, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'SOURCE_INVALID',
  },
  // The codes of the --authfile rows are a guess: the issue names none.
  {
    name: 'login with an --authfile that is a directory',
    program: 'registry-push',
    args: (c) => [
      'login',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      '--registry',
      c.host,
      '--authfile',
      c.dir,
    ],
    code: 'OPTION_INVALID',
    says: /--authfile/,
  },
  {
    name: 'login with an --authfile that cannot be written',
    program: 'registry-push',
    args: (c) => [
      'login',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--ca-file',
      c.ca,
      '--registry',
      c.host,
      '--authfile',
      join(c.plainFile, 'auth.json'),
    ],
    code: 'OPTION_INVALID',
    says: /--authfile/,
  },
  {
    name: 'trust with a --cert-dir under a regular file',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      c.ca,
      '--cert-dir',
      join(c.plainFile, 'certs.d'),
    ],
    code: 'TRUST_STORE_UNWRITABLE',
  },
  {
    name: 'trust with a --cert-dir in /sys',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      c.ca,
      '--cert-dir',
      '/sys/registry-push-certs.d',
    ],
    code: 'TRUST_STORE_UNWRITABLE',
  },
  {
    name: 'trust with a --cert-dir in /proc ends (does not hang)',
    program: 'registry-push',
    args: (c) => [
      'trust',
      '--kubeconfig',
      c.kubeconfig.developer,
      '--registry',
      c.host,
      '--ca-file',
      c.ca,
      '--cert-dir',
      '/proc/registry-push-certs.d',
    ],
    code: 'TRUST_STORE_UNWRITABLE',
    timeout: 45,
  },
  {
    name: 'push with a negative --retries',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, '--retries', '-1', c.image, target(c)],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: 'OPTION_INVALID',
    says: /--retries.*\d/,
  },
  {
    name: 'expose with a negative --timeout',
    program: 'registry-push',
    args: (c) => ['expose', '--kubeconfig', c.kubeconfig.admin, '--timeout', '-5'],
    code: 'OPTION_INVALID',
    says: /--timeout/,
  },
  {
    name: 'enable with a negative --replicas',
    program: 'registry-push',
    args: (c) => ['enable', '--kubeconfig', c.kubeconfig.admin, '--storage', 'emptydir', '--replicas', '-2'],
    code: 'OPTION_INVALID',
    says: /--replicas.*1/,
  },
  // The code is a guess: the layout contradicts itself (SOURCE_INVALID), or the layer is corrupt (BLOB_CORRUPT).
  {
    name: 'push of a manifest whose layer size is not the size of the blob the registry has',
    program: 'registry-push',
    args: (c) => ['push', '--ca-file', c.ca, c.sizeMismatchImage, target(c, 'demo', 'size-mismatch')],
    env: (c) => ({ REGISTRY_PUSH_TOKEN: c.token.developer }),
    code: ['SOURCE_INVALID', 'BLOB_CORRUPT'],
  },
];

// ---------------------------------------------------------------------------------------------------------
// The action
// ---------------------------------------------------------------------------------------------------------
const push = (c: Ctx): Record<string, string> => ({
  kubeconfig: c.kubeconfig.developer,
  namespace: 'demo',
  image: 'app',
  source: c.image,
  'ca-file': c.ca,
});
const ACTION: Row[] = [
  {
    name: 'action without the source input',
    program: 'action',
    inputs: (c) => ({ ...push(c), source: '' }),
    code: 'OPTION_INVALID',
    says: /The "source" input is required/,
  },
  {
    name: 'action without the image input',
    program: 'action',
    inputs: (c) => ({ ...push(c), image: '' }),
    code: 'OPTION_INVALID',
    says: /The "image" input is required/,
  },
  {
    name: 'action without the namespace input',
    program: 'action',
    inputs: (c) => ({ ...push(c), namespace: '' }),
    code: 'OPTION_INVALID',
    says: /The "namespace" input is required/,
  },
  {
    name: 'action with tls-verify that is not a boolean',
    program: 'action',
    inputs: (c) => ({ ...push(c), 'tls-verify': 'maybe' }),
    code: 'OPTION_INVALID',
    says: /"tls-verify" input is "maybe", not true or false/,
  },
  {
    name: 'action with logout that is not a boolean',
    program: 'action',
    inputs: (c) => ({ ...push(c), logout: 'perhaps' }),
    code: 'OPTION_INVALID',
    says: /"logout"/,
  },
  {
    name: 'action with negative retries',
    program: 'action',
    inputs: (c) => ({ ...push(c), retries: '-1' }),
    code: 'OPTION_INVALID',
    says: /"retries" input is "-1", not a whole number from 0 to 10/,
  },
  {
    name: 'action with an unknown expose mode',
    program: 'action',
    inputs: (c) => ({ ...push(c), expose: 'weird' }),
    code: 'OPTION_INVALID',
    says: /"expose"/,
  },
  {
    name: 'action with an unknown trust place',
    program: 'action',
    inputs: (c) => ({ ...push(c), trust: 'everywhere' }),
    code: 'OPTION_INVALID',
    says: /"trust"/,
  },
  {
    name: 'action with an unknown push tool',
    program: 'action',
    inputs: (c) => ({ ...push(c), 'push-tool': 'vim' }),
    code: 'OPTION_INVALID',
    says: /"push-tool"/,
  },
  {
    name: 'action with a source that does not exist',
    program: 'action',
    inputs: (c) => ({ ...push(c), source: `oci:${c.work}/no-such-layout` }),
    code: 'SOURCE_NOT_FOUND',
    says: /no-such-layout does not exist/,
  },
  {
    name: 'action with an unknown source transport',
    program: 'action',
    inputs: (c) => ({ ...push(c), source: 'bogus:thing' }),
    code: 'SOURCE_INVALID',
  },
  {
    name: 'action with an image name that is not a name',
    program: 'action',
    inputs: (c) => ({ ...push(c), image: 'Bad Name' }),
    code: 'OPTION_INVALID',
    says: /"Bad Name", which is not a valid image name/,
  },
  {
    name: 'action with a tag that is not a tag',
    program: 'action',
    inputs: (c) => ({ ...push(c), tags: 'ok,bad tag!' }),
    code: 'OPTION_INVALID',
    says: /"bad tag!", which is not a valid tag/,
  },
  {
    name: 'action with a username that has a colon',
    program: 'action',
    inputs: (c) => ({ ...push(c), username: 'a:b' }),
    code: 'OPTION_INVALID',
    says: /contains ":"/,
  },
  {
    name: 'action with a kubeconfig path that does not exist',
    program: 'action',
    inputs: (c) => ({ ...push(c), kubeconfig: `${c.work}/no-kubeconfig` }),
    code: 'OPTION_INVALID',
    says: /no-kubeconfig, which does not exist/,
  },
  {
    name: 'action with a kubeconfig context that does not exist',
    program: 'action',
    inputs: (c) => ({ ...push(c), context: 'nosuch' }),
    code: 'KUBECONFIG_INVALID',
    says: /no context "nosuch"/,
  },
  {
    name: 'action with a server that is not a URL',
    program: 'action',
    inputs: (c) => ({ ...push(c), kubeconfig: '', server: 'not-a-url', token: c.fakeToken }),
    code: 'OPTION_INVALID',
    says: /"not-a-url", which is not an https URL/,
    secrets: (c) => leakForms(c.fakeToken, ['registry-push']),
  },
  {
    name: 'action with a token the cluster does not know',
    program: 'action',
    inputs: (c) => ({
      ...push(c),
      kubeconfig: '',
      server: c.cluster.apiServer,
      'server-ca': c.cluster.apiCaPem,
      token: c.fakeToken,
    }),
    code: 'TOKEN_INVALID',
    secrets: (c) => leakForms(c.fakeToken, ['registry-push']),
  },
  {
    name: 'action as a user without push rights',
    program: 'action',
    inputs: (c) => ({ ...push(c), kubeconfig: c.kubeconfig.viewer }),
    code: 'PUSH_FORBIDDEN',
    says: /oc policy add-role-to-user system:image-builder viewer -n demo/,
  },
  {
    name: 'action with kubeconfig content of a user without push rights',
    program: 'action',
    inputs: (c) => ({ ...push(c), kubeconfig: c.oneLineKubeconfig }),
    code: 'PUSH_FORBIDDEN',
    secrets: (c) => [c.oneLineKubeconfig],
  },
  {
    name: 'action with ca-data that is not PEM',
    program: 'action',
    inputs: (c) => ({ ...push(c), 'ca-file': '', 'ca-data': 'garbage' }),
    code: 'OPTION_INVALID',
    says: /"ca-data" input is not PEM text/,
  },
  {
    name: 'action with a ca-file that does not exist',
    program: 'action',
    inputs: (c) => ({ ...push(c), 'ca-file': `${c.work}/no-ca.pem` }),
    code: ['OPTION_INVALID', 'CA_INVALID', 'CA_NOT_FOUND'],
  },

  // Issue 18.
  {
    name: 'action against an API server that does not answer',
    program: 'action',
    inputs: (c) => ({ ...push(c), kubeconfig: '', server: unreachable(c), token: c.fakeToken }),
    code: 'CLUSTER_UNREACHABLE',
    secrets: (c) => leakForms(c.fakeToken, ['registry-push']),
  },
  {
    name: 'action with kubeconfig content on one line does not show the token',
    program: 'action',
    inputs: (c) => ({
      ...push(c),
      kubeconfig: `apiVersion: v1, kind: Config, users: [{name: viewer, user: {token: ${c.token.viewer}}}]`,
    }),
    code: ['OPTION_INVALID', 'KUBECONFIG_INVALID'],
  },
  {
    name: 'action to a project that does not exist',
    program: 'action',
    inputs: (c) => ({ ...push(c), namespace: 'no-such-project' }),
    code: 'PROJECT_NOT_FOUND',
    says: /no-such-project/,
  },
  {
    name: 'action with an oci-archive source that is a directory',
    program: 'action',
    inputs: (c) => ({ ...push(c), source: `oci-archive:${c.layoutDir}` }),
    code: 'SOURCE_INVALID',
  },
];

// ---------------------------------------------------------------------------------------------------------
// registry-pruner
// ---------------------------------------------------------------------------------------------------------
const redisEnv = (c: Ctx): NodeJS.ProcessEnv => ({
  REDIS_URL: c.redisUrl,
  PRUNER_QUEUE: 'bad-input',
  PRUNER_HTTP_PORT: '0',
});
const PRUNER: Row[] = [
  {
    name: 'pruner: an unknown command',
    program: 'registry-pruner',
    args: () => ['bogus'],
    code: 'usage',
    says: /unknown command "bogus"/i,
  },
  {
    name: 'pruner: an unknown option',
    program: 'registry-pruner',
    args: () => ['run', '--frobnicate'],
    code: 'usage',
    says: /--frobnicate/,
  },
  {
    name: 'pruner: an argument too many',
    program: 'registry-pruner',
    args: () => ['run', 'extra'],
    code: 'usage',
    says: /unexpected argument "extra"/i,
  },
  {
    name: 'pruner: --keep-tag-revisions that is not a number',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin, '--keep-tag-revisions', 'abc'],
    code: 'PRUNER_USAGE',
    says: /--keep-tag-revisions must be a whole number of 0 or more/,
  },
  {
    name: 'pruner: --keep-younger-than that is not a duration',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin, '--keep-younger-than', 'soon'],
    code: 'PRUNER_USAGE',
    says: /--keep-younger-than must be a duration such as 60m/,
  },
  {
    name: 'pruner: an unknown --mode',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin, '--mode', 'fast'],
    code: 'PRUNER_USAGE',
    says: /must be auto, metadata or full, not "fast"/,
  },
  {
    name: 'pruner: an unknown --output',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin, '--output', 'yaml'],
    code: 'PRUNER_USAGE',
    says: /--output must be table or json, not "yaml"/,
  },
  {
    name: 'pruner: status --limit that is not a number',
    program: 'registry-pruner',
    args: () => ['status', '--limit', 'x'],
    env: redisEnv,
    code: 'PRUNER_USAGE',
    says: /--limit must be a whole number/,
  },
  {
    name: 'pruner: enqueue --timeout that is not a duration',
    program: 'registry-pruner',
    args: () => ['enqueue', '--wait', '--timeout', 'forever'],
    env: redisEnv,
    code: 'PRUNER_USAGE',
    says: /--timeout must be a positive duration/,
  },
  {
    name: 'pruner: PRUNER_MODE that is not a mode',
    program: 'registry-pruner',
    args: () => ['status'],
    env: (c) => ({ ...redisEnv(c), PRUNER_MODE: 'fast' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /not "fast"/,
  },
  {
    name: 'pruner: PRUNER_CONCURRENCY of 0',
    program: 'registry-pruner',
    args: () => ['status'],
    env: (c) => ({ ...redisEnv(c), PRUNER_CONCURRENCY: '0' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /PRUNER_CONCURRENCY must be a whole number of 1 or more, not "0"/,
  },
  {
    name: 'pruner: a negative PRUNER_HTTP_PORT',
    program: 'registry-pruner',
    args: () => ['status'],
    env: (c) => ({ ...redisEnv(c), PRUNER_HTTP_PORT: '-1' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /PRUNER_HTTP_PORT/,
  },
  {
    name: 'pruner: PRUNER_CONFIRM that is not a boolean',
    program: 'registry-pruner',
    args: () => ['status'],
    env: (c) => ({ ...redisEnv(c), PRUNER_CONFIRM: 'maybe' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /PRUNER_CONFIRM must be true or false/,
  },
  {
    name: 'pruner: PRUNER_POLICY that is not JSON',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin],
    env: () => ({ PRUNER_POLICY: '[1' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /PRUNER_POLICY.*For example/,
  },
  {
    name: 'pruner: REDIS_SENTINELS that are not host:port',
    program: 'registry-pruner',
    args: () => ['status'],
    env: () => ({ REDIS_SENTINELS: 'x' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /REDIS_SENTINELS must list host:port pairs/,
  },
  {
    name: 'pruner: a Redis that does not answer',
    program: 'registry-pruner',
    args: () => ['status'],
    env: (c) => ({ REDIS_URL: `redis://127.0.0.1:${String(c.closedPort)}` }),
    code: 'PRUNER_REDIS_UNREACHABLE',
    says: /Check REDIS_URL/,
  },
  {
    name: 'pruner: enqueue --wait with no worker times out',
    program: 'registry-pruner',
    args: () => ['enqueue', '--wait', '--timeout', '3s'],
    env: (c) => ({ ...redisEnv(c), PRUNER_QUEUE: 'bad-input-no-worker' }),
    code: 'PRUNER_TIMEOUT',
  },
  {
    name: 'pruner: a --kubeconfig that does not exist',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', `${c.work}/no-kubeconfig`],
    code: 'KUBECONFIG_INVALID',
    says: /does not exist/,
  },
  {
    name: 'pruner: a kubeconfig context that does not exist',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin, '--context', 'nosuch'],
    code: 'KUBECONFIG_INVALID',
    says: /no context "nosuch"/,
  },
  {
    name: 'pruner: run as a user who may not prune',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.viewer],
    code: 'FORBIDDEN',
  },

  // Issue 18. Codes follow the pruner's style (PRUNER_SETTING_INVALID for settings, PRUNER_USAGE for flags);
  // the issue names none for these, so they are a guess.
  {
    name: 'pruner: full prune with a PRUNER_REGISTRY_CA_FILE that does not exist',
    program: 'registry-pruner',
    args: (c) => [
      'run',
      '--kubeconfig',
      c.kubeconfig.admin,
      '--mode',
      'full',
      '--confirm',
      '--keep-tag-revisions',
      '0',
      '--keep-younger-than',
      '0s',
    ],
    env: (c) => ({
      PRUNER_REGISTRY_HOST: c.cluster.internalRegistry,
      PRUNER_REGISTRY_CA_FILE: `${c.work}/no-ca.pem`,
    }),
    code: 'PRUNER_SETTING_INVALID',
    says: /PRUNER_REGISTRY_CA_FILE/,
  },
  {
    name: 'pruner: REDIS_URL that is not a URL',
    program: 'registry-pruner',
    args: () => ['status'],
    env: () => ({ REDIS_URL: 'garbage' }),
    code: 'PRUNER_SETTING_INVALID',
    says: /REDIS_URL/,
  },
  {
    name: 'pruner: worker with PRUNER_HTTP_PORT already in use',
    program: 'registry-pruner',
    args: (c) => ['worker', '--kubeconfig', c.kubeconfig.admin],
    env: (c) => ({
      ...redisEnv(c),
      PRUNER_QUEUE: 'bad-input-port',
      PRUNER_HTTP_PORT: new URL(c.redisUrl).port,
    }),
    code: 'PRUNER_HTTP_BIND_FAILED',
    says: /PRUNER_HTTP_PORT/,
    timeout: 45,
  },
  {
    name: 'pruner: a negative --keep-tag-revisions',
    program: 'registry-pruner',
    args: (c) => ['run', '--kubeconfig', c.kubeconfig.admin, '--keep-tag-revisions', '-1'],
    code: ['PRUNER_USAGE', 'OPTION_INVALID'],
    says: /--keep-tag-revisions.*0/,
  },
  {
    name: 'pruner: a negative status --limit',
    program: 'registry-pruner',
    args: () => ['status', '--limit', '-3'],
    env: redisEnv,
    code: ['PRUNER_USAGE', 'OPTION_INVALID'],
    says: /--limit.*0/,
  },
];

// BAD_INPUT_ONLY=<regex> runs only the rows whose names match (while working on one fix).
const only = process.env['BAD_INPUT_ONLY'];
const ROWS: Row[] = [...CLI, ...ACTION, ...PRUNER].filter(
  (row) => only === undefined || new RegExp(only).test(row.name),
);

/** The cluster's tokens in every form, for every row: no run may show any of them. */
function clusterSecrets(c: Ctx): string[] {
  const users = ['registry-push', 'kubeadmin', 'developer', 'viewer', 'unused'];
  return [c.token.admin, c.token.developer, c.token.viewer, c.fakeToken].flatMap((t) => leakForms(t, users));
}

/** A loopback port that was free a moment ago and that nothing of ours listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A copy of a layout whose manifest says its first layer is one byte longer than it is. */
async function sizeMismatchLayout(from: string, to: string): Promise<string> {
  await cp(from, to, { recursive: true });
  const blob = (digest: string): string => join(to, 'blobs', 'sha256', digest.replace('sha256:', ''));
  const index = JSON.parse(await readFile(join(to, 'index.json'), 'utf8')) as {
    manifests: { digest: string; size: number }[];
  };
  const entry = index.manifests[0];
  if (entry === undefined) throw new Error('the layout has no manifest');
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as { layers: { size: number }[] };
  const layer = manifest.layers[0];
  if (layer === undefined) throw new Error('the manifest has no layer');
  layer.size += 1;
  const text = JSON.stringify(manifest);
  const digest = `sha256:${createHash('sha256').update(text).digest('hex')}`;
  await writeFile(blob(digest), text);
  entry.digest = digest;
  entry.size = Buffer.byteLength(text);
  await writeFile(join(to, 'index.json'), JSON.stringify(index));
  return `oci:${to}`;
}

function kubeconfigJson(c: Pick<Ctx, 'cluster'>, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'sim',
        cluster: {
          server: c.cluster.apiServer,
          'certificate-authority-data': Buffer.from(c.cluster.apiCaPem).toString('base64'),
        },
      },
    ],
    users: [{ name: 'viewer', user: { token } }],
    contexts: [{ name: 'viewer', context: { cluster: 'sim', user: 'viewer', namespace: 'demo' } }],
    'current-context': 'viewer',
  });
}

describe.runIf(process.getuid?.() === 0)('bad input: one line, a code, a fix, no secret', () => {
  let ctx: Ctx | undefined;
  let redis: RunningRedis | undefined;
  let cluster: RunningCluster | undefined;
  let basicRegistry: RunningRegistry | undefined;
  let work = '';
  const results = new Map<string, RunResult>();

  beforeAll(async () => {
    work = await makeWorkDir('e2e-bad-input');
    [cluster, redis] = await Promise.all([startCluster({ defaultRoute: true }), startRedis()]);
    const basicPassword = `pw-${createHash('sha256').update(work).digest('hex').slice(0, 24)}`;
    basicRegistry = await startRegistry({ tls: true, auth: { username: 'ci-bot', password: basicPassword } });
    const built = await buildOciImage({
      outDir: join(work, 'image'),
      layers: 1,
      layerSize: 4096,
      seed: 'bad-input',
    });
    const basic = await buildOciImage({
      outDir: join(work, 'basic'),
      layers: 6,
      layerSize: 64 * 1024,
      seed: 'bad-input-basic',
    });
    const caFile = join(work, 'ingress-ca.pem');
    await writeFile(caFile, cluster.ingressCaPem);
    const [expired, other] = await Promise.all([
      createCertificateAuthority('expired test CA', -1),
      createCertificateAuthority('unrelated test CA'),
    ]);
    await writeFile(join(work, 'expired-ca.pem'), expired.certPem);
    await writeFile(join(work, 'other-ca.pem'), other.certPem);
    await writeFile(join(work, 'plain-file'), 'not a directory\n');
    await mkdir(join(work, 'a-directory'));
    await writeFile(join(work, 'bad.kubeconfig'), 'apiVersion: v1\nclusters: [ {{ not yaml\n');
    await writeFile(join(work, 'empty-auth.json'), '{"auths":{}}\n', { mode: 0o600 });
    const users = cluster.users;
    const token = {
      admin: users['kubeadmin']?.token ?? '',
      developer: users['developer']?.token ?? '',
      viewer: users['viewer']?.token ?? '',
    };
    ctx = {
      work,
      cluster,
      redisUrl: redis.url,
      host: `default-route-openshift-image-registry.${cluster.appsDomain}`,
      ca: caFile,
      caPem: cluster.ingressCaPem,
      image: `oci:${built.layoutDir}`,
      layoutDir: built.layoutDir,
      kubeconfig: {
        admin: cluster.kubeconfig,
        developer: users['developer']?.kubeconfig ?? '',
        viewer: users['viewer']?.kubeconfig ?? '',
      },
      token,
      fakeToken: `sha256~${createHash('sha256').update(`${work}-fake`).digest('base64url')}`,
      oneLineKubeconfig: kubeconfigJson({ cluster }, token.viewer),
      closedPort: await closedPort(),
      plainFile: join(work, 'plain-file'),
      dir: join(work, 'a-directory'),
      badYaml: join(work, 'bad.kubeconfig'),
      expiredCa: join(work, 'expired-ca.pem'),
      otherCa: join(work, 'other-ca.pem'),
      sizeMismatchImage: '',
      basicRegistry,
      basicPassword,
      basicImage: `oci:${basic.layoutDir}`,
    };
    // The size-mismatch row needs its layer in the registry already: push the true image first.
    const first = await runScript(
      [registryPushBin, 'push', '--ca-file', caFile, ctx.image, `${ctx.host}/demo/size-mismatch:base`],
      { PATH: process.env['PATH'] ?? '', HOME: work, REGISTRY_PUSH_TOKEN: token.developer },
    );
    if (first.code !== 0) throw new Error(`could not push the base image:\n${first.stderr}`);
    ctx.sizeMismatchImage = await sizeMismatchLayout(built.layoutDir, join(work, 'size-mismatch'));

    const c = ctx;
    await inBatches(ROWS, 8, async (row) => {
      const home = join(work, 'homes', String(ROWS.indexOf(row)));
      await mkdir(home, { recursive: true });
      // Nothing of this process's environment: no KUBECONFIG, no token, a HOME of its own.
      const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '', HOME: home, ...row.env?.(c) };
      const timeoutMs = (row.timeout ?? 90) * 1000;
      let result: RunResult;
      if (row.program === 'action') {
        result = await runAction(row.inputs?.(c) ?? {}, join(work, 'jobs'), row.env?.(c) ?? {});
      } else {
        const bin = row.program === 'registry-push' ? registryPushBin : registryPrunerBin;
        result = await runScript([bin, ...(row.args?.(c) ?? [])], env, timeoutMs, home);
      }
      results.set(row.name, result);
    });
  }, 1_500_000);

  afterAll(async () => {
    await basicRegistry?.stop();
    await redis?.stop();
    await cluster?.stop();
    if (work !== '') await removeWorkDir(work);
  }, 60_000);

  for (const row of ROWS) {
    it(row.name, () => {
      const c = ctx;
      const result = results.get(row.name);
      if (c === undefined || result === undefined) throw new Error('the row did not run');
      const secrets = [...clusterSecrets(c), ...(row.secrets?.(c) ?? [])];
      if (row.succeeds === true) {
        const report = `${result.stdout}\n${result.stderr}`;
        expect(result.code, report).toBe(0);
        expect(
          problemsOf({ ...result, code: 1 }, { program: row.program, code: 'usage', secrets }).filter(
            (p) => p.includes('secret') || p.includes('stack'),
          ),
          report,
        ).toEqual([]);
        return;
      }
      const problems = problemsOf(result, {
        program: row.program,
        code: row.code,
        secrets,
        ...(row.says === undefined ? {} : { says: row.says }),
        ...(row.warns === undefined ? {} : { warns: row.warns }),
      });
      expect(problems, `${result.stdout}\n${result.stderr}`).toEqual([]);
    });
  }

  // doctor reports checks, not one error: the unreachable API server must be named as such, with a fix.
  it('doctor against an API server that does not answer says so', async () => {
    const c = ctx;
    if (c === undefined) throw new Error('no cluster');
    const result = await runScript([registryPushBin, 'doctor', '--server', unreachable(c), '-n', 'demo'], {
      PATH: process.env['PATH'] ?? '',
      HOME: work,
      REGISTRY_PUSH_TOKEN: c.fakeToken,
    });
    const report = `${result.stdout}\n${result.stderr}`;
    expect(result.code).toBe(1);
    for (const secret of clusterSecrets(c)) expect(report.includes(secret)).toBe(false);
    expect(report).not.toMatch(/^\s+at \S|node:internal/m);
    expect(report).toMatch(
      /\[FAIL\] cluster API access: .*(unreachable|not reachable|cannot reach|CLUSTER_UNREACHABLE)/i,
    );
    expect(report).toMatch(/^\s+fix: /m);
  });
});
