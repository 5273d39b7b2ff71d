// Vendors the upstream Kubernetes `generated.proto` files the simulator's protobuf codec loads, and lists the
// Go pointer fields and inline embedded structs of those types (proto/go-fields.json). Go's protobuf encoding writes every non-pointer
// field, zero or not, so a decoder cannot tell `false` from "not set" by the wire alone; the Go types can: a
// pointer field that is present was set, a non-pointer zero is what Go's JSON leaves out (omitempty).
//
// Usage: node scripts/vendor-proto.mjs <kubernetes/api git dir> <kubernetes/apimachinery git dir> <tag>
// (the git dirs as the `fetch` tool or `git clone --bare` leaves them; files are read with `git show`).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { argv, exit, stderr, stdout } from 'node:process';
import { fileURLToPath } from 'node:url';

const [apiGit, machineryGit, tag] = argv.slice(2);
if (!apiGit || !machineryGit || !tag) {
  stderr.write('usage: node scripts/vendor-proto.mjs <api git dir> <apimachinery git dir> <tag>\n');
  exit(2);
}
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'proto');
const show = (gitDir, path) =>
  execFileSync('git', ['--git-dir', gitDir, 'show', `${tag}:${path}`], { encoding: 'utf8' });

const sources = [
  { git: apiGit, dir: 'core/v1', repo: 'k8s.io/api', pkg: 'k8s.io.api.core.v1' },
  { git: apiGit, dir: 'apps/v1', repo: 'k8s.io/api', pkg: 'k8s.io.api.apps.v1' },
  { git: apiGit, dir: 'batch/v1', repo: 'k8s.io/api', pkg: 'k8s.io.api.batch.v1' },
  { git: apiGit, dir: 'rbac/v1', repo: 'k8s.io/api', pkg: 'k8s.io.api.rbac.v1' },
  { git: apiGit, dir: 'authentication/v1', repo: 'k8s.io/api', pkg: 'k8s.io.api.authentication.v1' },
  {
    git: machineryGit,
    dir: 'pkg/apis/meta/v1',
    repo: 'k8s.io/apimachinery',
    pkg: 'k8s.io.apimachinery.pkg.apis.meta.v1',
  },
  { git: machineryGit, dir: 'pkg/runtime', repo: 'k8s.io/apimachinery' },
  { git: machineryGit, dir: 'pkg/runtime/schema', repo: 'k8s.io/apimachinery' },
  { git: machineryGit, dir: 'pkg/util/intstr', repo: 'k8s.io/apimachinery' },
  { git: machineryGit, dir: 'pkg/api/resource', repo: 'k8s.io/apimachinery' },
];

const pointers = {};
// Go structs embedded with `json:",inline"` are a nested message on the wire (Probe's `handler`, a key
// selector's `localObjectReference`) but their fields sit in the parent in JSON.
const inline = {};
for (const source of sources) {
  const target = join(out, source.repo, source.dir, 'generated.proto');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, show(source.git, `${source.dir}/generated.proto`));
  if (source.pkg === undefined) continue;
  let struct;
  for (const line of show(source.git, `${source.dir}/types.go`).split('\n')) {
    const opened = /^type (\w+) struct \{/.exec(line);
    if (opened) struct = opened[1];
    else if (line === '}') struct = undefined;
    else if (struct !== undefined) {
      const field = /^\t\w+\s+\*[\w.]+\s+`json:"(\w+)/.exec(line);
      if (field) (pointers[`${source.pkg}.${struct}`] ??= []).push(field[1]);
      const embedded = /^\t(\w+)\s+`json:",inline"\s+protobuf:"([^"]*)"/.exec(line);
      if (embedded) {
        const named = /name=(\w+)/.exec(embedded[2])?.[1];
        const goName = embedded[1];
        (inline[`${source.pkg}.${struct}`] ??= []).push(named ?? goName[0].toLowerCase() + goName.slice(1));
      }
    }
  }
}
writeFileSync(join(out, 'LICENSE'), show(apiGit, 'LICENSE'));
writeFileSync(join(out, 'go-fields.json'), `${JSON.stringify({ tag, pointers, inline }, null, 2)}\n`);
stdout.write(`vendored ${sources.length} proto files at ${tag} into ${out}\n`);
