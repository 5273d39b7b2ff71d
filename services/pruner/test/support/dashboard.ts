// Driving the dashboard in tests: plain HTTP requests with a session cookie, and Debian's chromium through
// playwright-core (headless, a fresh profile; nothing is downloaded).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
/** Where screenshots go (ignored by git). */
export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-artifacts');

/** A dashboard's answer over plain HTTP. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Requests `path` of the dashboard at `base`; a `body` is sent as a form. Redirects are not followed. */
export async function request(
  base: string,
  path: string,
  options: { method?: string; cookie?: string; body?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(base + path, {
    method: options.method ?? 'GET',
    redirect: 'manual',
    headers: {
      ...(options.cookie !== undefined ? { cookie: options.cookie } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    ...(options.body !== undefined ? { body: new URLSearchParams(options.body).toString() } : {}),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Signs in with `token` and returns the session cookie (`name=value`). */
export async function login(base: string, token: string): Promise<string> {
  const answer = await request(base, '/login', { method: 'POST', body: { token } });
  expect(answer.status).toBe(303);
  const cookie = answer.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/^pruner_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
  expect(answer.headers.get('location')).toBe('/');
  return cookie.split(';')[0]!;
}

/** The CSRF value of the first form on a page. */
export const csrfOf = (page: string): string => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';

/** A headless chromium with a fresh profile, and a screenshot helper into `ARTIFACTS/<folder>`. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  shot: (name: string) => Promise<Buffer>;
  close: () => Promise<void>;
}

/**
 * Launches Debian's chromium.
 *
 * @throws Error naming the install script when chromium is missing.
 */
export async function launchChromium(folder: string): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: run scripts/install-system-deps.sh (it installs Debian's chromium).`,
    );
  const artifacts = join(ARTIFACTS, folder);
  await mkdir(artifacts, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'pruner-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1200, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    shot: (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true }),
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
