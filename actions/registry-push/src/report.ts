import { info, setOutput, summary, warning } from '@actions/core';
import {
  INTERNAL_REGISTRY,
  isRegistryPushError,
  type ExposeProgress,
  type ExposeResult,
  type ManifestDocument,
  type PushEvent,
  formatBytes,
  type PushResult,
  type RegistryApi,
} from '@registry-push/core';

/** `sha256:0123456789ab` for log lines; outputs and the summary carry the whole digest. */
function short(digest: string): string {
  return digest.slice(0, 'sha256:'.length + 12);
}

/** A warning annotation: shown on the run page, not only in the log. */
export function annotate(message: string): void {
  warning(message, { title: 'registry-push' });
}

/** Progress of exposing, discovery and revert, one log line each. */
export function logExposeProgress(progress: ExposeProgress): void {
  info(`[${progress.step}] ${progress.message}`);
}

/** Progress of a push; per-byte progress is left out (it would flood the log). */
export function logPushEvent(event: PushEvent): void {
  switch (event.kind) {
    case 'loaded':
      info(
        `read ${event.description}: ${event.manifests} manifest(s), ${event.blobs} blobs, ${formatBytes(event.bytes)}`,
      );
      return;
    case 'blob-start':
    case 'blob-progress':
      return;
    case 'blob-done':
      info(`${short(event.digest)} ${formatBytes(event.size)} ${event.outcome}`);
      return;
    case 'manifest':
      info(`${event.reference} -> ${event.digest}`);
      return;
    case 'retry':
      info(
        `retrying (attempt ${event.attempt + 1}) to ${event.action} in ${(event.delayMs / 1000).toFixed(1)} s: ${event.reason}`,
      );
      return;
  }
}

function contentSize(document: ManifestDocument): number {
  return (document.config?.size ?? 0) + (document.layers ?? []).reduce((sum, layer) => sum + layer.size, 0);
}

/**
 * The size of what a digest names in the registry: config plus layers, summed over the platforms of an index.
 * Read back from the registry, so it is what was stored whichever tool pushed. Undefined if it cannot be read
 * (the push itself already succeeded; a size is not worth failing for).
 */
export async function storedSize(
  client: RegistryApi,
  repository: string,
  digest: string,
): Promise<number | undefined> {
  try {
    const root = await client.getManifest(repository, digest);
    if (root === undefined) return undefined;
    const document = JSON.parse(root.bytes.toString('utf8')) as ManifestDocument;
    let size = contentSize(document);
    for (const child of document.manifests ?? []) {
      const manifest = await client.getManifest(repository, child.digest);
      if (manifest !== undefined)
        size += contentSize(JSON.parse(manifest.bytes.toString('utf8')) as ManifestDocument);
    }
    return size;
  } catch (error) {
    if (!isRegistryPushError(error)) throw error;
    info(`could not read the pushed size back: ${error.message}`);
    return undefined;
  }
}

/** What the action reports: the step outputs and the job summary. */
export interface PushReport {
  exposed: Pick<ExposeResult, 'host' | 'source' | 'detail'>;
  pushed: PushResult;
  size: number | undefined;
  authFile: string;
  certDir: string | undefined;
}

/** The step outputs (see action.yml). */
export function setOutputs(report: PushReport): void {
  const { pushed } = report;
  setOutput('registry', report.exposed.host);
  setOutput('registry-source', report.exposed.source);
  setOutput('image', pushed.image);
  setOutput('digest', pushed.digest);
  setOutput('refs', JSON.stringify(pushed.refs));
  setOutput('internal-ref', pushed.internalRef ?? '');
  setOutput('auth-file', report.authFile);
  setOutput('cert-dir', report.certDir ?? '');
}

/** The in-cluster pull spec of one tag (what a Deployment in the cluster names). */
function internalTag(pushed: PushResult, tag: string): string {
  const repository = pushed.image.slice(pushed.image.indexOf('/') + 1);
  return `${INTERNAL_REGISTRY}/${repository}:${tag}`;
}

/**
 * Tags listed in the job summary. GitHub refuses a step summary over 1 MiB (and then shows none); a row is
 * about 240 bytes, so a push of ~4,400 tags would pass it. 1,000 rows stay near a quarter of the limit; the
 * `refs` output always lists every tag.
 */
export const SUMMARY_TAG_LIMIT = 1000;

/** The job summary: one row per tag (the first {@link SUMMARY_TAG_LIMIT}), then the pull spec by digest. */
export async function writeSummary(report: PushReport): Promise<void> {
  const { pushed } = report;
  const size = report.size === undefined ? 'unknown' : formatBytes(report.size);
  const listed = pushed.refs.slice(0, SUMMARY_TAG_LIMIT);
  const left = pushed.refs.length - listed.length;
  const rows = listed.map((ref) => [
    `<code>${ref.tag}</code>`,
    `<code>${ref.digest}</code>`,
    size,
    `<code>${internalTag(pushed, ref.tag)}</code>`,
  ]);
  const written = summary
    .addHeading('registry-push', 3)
    .addRaw(
      `Pushed <code>${pushed.image}</code> (${pushed.via}) to <code>${report.exposed.host}</code>, found through ${report.exposed.detail}.`,
      true,
    )
    .addTable([
      [
        { data: 'Tag', header: true },
        { data: 'Digest', header: true },
        { data: 'Size', header: true },
        { data: 'Internal pull spec', header: true },
      ],
      ...rows,
    ]);
  if (left > 0) {
    written.addRaw(
      `…and ${left} more ${left === 1 ? 'tag was' : 'tags were'} pushed (${pushed.refs.length} in all); every tag is in the <code>refs</code> output.`,
      true,
    );
  }
  await written
    .addRaw(`Deploy by digest inside the cluster: <code>${pushed.internalRef ?? ''}</code>`, true)
    .write();
}
