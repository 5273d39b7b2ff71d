// The job summary of a push of many tags stays under GitHub's 1 MiB step summary limit and says how many
// tags it left out; the outputs still list every tag.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summary } from '@actions/core';
import type { PushResult } from '@registry-push/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SUMMARY_TAG_LIMIT, writeSummary, type PushReport } from '../src/report.js';

const DIGEST = `sha256:${'3'.repeat(64)}`;
const IMAGE = 'default-route-openshift-image-registry.apps.example.test/demo/app';

function reportOf(tags: number): PushReport {
  const refs = Array.from({ length: tags }, (_, i) => ({
    tag: `build-${String(i).padStart(6, '0')}`,
    reference: `${IMAGE}:build-${String(i).padStart(6, '0')}`,
    digest: DIGEST,
  }));
  const pushed: PushResult = {
    image: IMAGE,
    digest: DIGEST,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    refs,
    internalRef: `image-registry.openshift-image-registry.svc:5000/demo/app@${DIGEST}`,
    blobs: { uploaded: 2, mounted: 0, existing: 0, bytesUploaded: 2048 },
    via: 'native',
    durationMs: 1,
  };
  return {
    exposed: {
      host: 'default-route-openshift-image-registry.apps.example.test',
      source: 'default-route',
      detail: 'the default route',
    },
    pushed,
    size: 123_456,
    authFile: '/tmp/auth.json',
    certDir: undefined,
  };
}

describe('the job summary', () => {
  let dir: string;
  let file: string;
  const saved = process.env['GITHUB_STEP_SUMMARY'];
  // @actions/core remembers the summary path on first use: one file for all tests, emptied before each.
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'summary-test-'));
    file = join(dir, 'summary.md');
    process.env['GITHUB_STEP_SUMMARY'] = file;
  });
  beforeEach(async () => {
    await writeFile(file, '');
    summary.emptyBuffer();
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env['GITHUB_STEP_SUMMARY'];
    else process.env['GITHUB_STEP_SUMMARY'] = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it('stays under 1 MiB for 10,000 tags and says how many it left out', async () => {
    await writeSummary(reportOf(10_000));
    expect((await stat(file)).size).toBeLessThan(1024 * 1024);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('build-000000');
    expect(text).toContain(`build-${String(SUMMARY_TAG_LIMIT - 1).padStart(6, '0')}`);
    expect(text).not.toContain(`build-${String(SUMMARY_TAG_LIMIT).padStart(6, '0')}`);
    expect(text).toContain(`and ${10_000 - SUMMARY_TAG_LIMIT} more tags were pushed (10000 in all)`);
    expect(text).toContain('<code>refs</code> output');
    expect(text).toContain(`@${DIGEST}`);
  });

  it('lists every tag, with no note, when there are few', async () => {
    await writeSummary(reportOf(3));
    const text = await readFile(file, 'utf8');
    expect(text).toContain('build-000002');
    expect(text).not.toContain('more tag');
  });
});
