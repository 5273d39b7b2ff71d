import { statSync } from 'node:fs';
import { setSecret } from '@actions/core';
import { redact } from '@registry-push/core';

/**
 * Secrets this process knows of. Each is handed to the runner's log masking (`core.setSecret`) the moment it
 * is known, and scrubbed from the one failure line the action prints, in case masking is not in place (a
 * local run, a runner that drops the command).
 */
const known = new Set<string>();

/** Hand one exact value to the runner's log masking, once; values under 4 characters would blur every log. */
export function maskSecret(value: string): void {
  if (value.length < 4 || known.has(value)) return;
  known.add(value);
  setSecret(value);
}

/**
 * Mask a secret and whatever is derived from it that could reach a log: its base64 form and, for multi-line
 * values such as PEM keys, every line on its own, since the runner masks line by line. The registry
 * credentials have their own forms (`credentials.ts`).
 */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  const forms = [value, value.trim(), Buffer.from(value.trim()).toString('base64')];
  for (const line of value.split(/\r?\n/)) {
    // PEM armour lines ("-----BEGIN PRIVATE KEY-----") are not secret and masking them only blurs logs.
    if (line.trim().length >= 8 && !line.startsWith('-----')) forms.push(line.trim());
  }
  for (const form of forms) maskSecret(form);
}

/** Remove every known secret (and its base64 form) from a text about to be printed. */
export function scrub(text: string): string {
  return redact(text, [...known]);
}

/**
 * Secret values inside a kubeconfig given as content: tokens, passwords and client keys. A kubeconfig given
 * as a path never reaches a log, and its token is masked once the cluster client hands it over.
 */
export function kubeconfigSecrets(content: string): string[] {
  const pattern =
    /["']?\b(?:token|password|client-key-data|client-secret|id-token|refresh-token|access-token)["']?\s*:\s*["']?([^\s"',}]+)/g;
  return [...content.matchAll(pattern)].map((match) => match[1] ?? '').filter((value) => value !== '');
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether a kubeconfig value may be shown as a path: a short run of path characters, and not a JWT (`eyJ…`,
 * made of the same characters). Anything else may be content flattened onto one line, a token or a key.
 */
export function isPlainlyPath(value: string): boolean {
  return /^[\w./@+-]{1,160}$/.test(value) && !value.startsWith('eyJ');
}

/**
 * Mask the `kubeconfig` input before anything can print it. Unless it is the path of a file or plainly a
 * path (a mistyped one must stay readable in the error), it is content (or content mangled onto one line,
 * which is still secret): the whole value, each of its lines (the runner masks line by line), and each
 * token, password and client key inside it, on their own, in case the value reaches a log cut differently
 * or re-encoded.
 */
export function maskKubeconfigInput(value: string): void {
  const trimmed = value.trim();
  if (trimmed === '' || isFile(trimmed) || isPlainlyPath(trimmed)) return;
  registerSecret(value);
  for (const secret of kubeconfigSecrets(value)) registerSecret(secret);
}
