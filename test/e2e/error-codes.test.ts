// Every error code a user can meet is explained in the README's troubleshooting table; a new code without a
// row there fails here.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_ERROR_CODES, CORE_ERROR_CODES, REGISTRY_ERROR_CODES } from '@registry-push/core';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8');

describe('error codes', () => {
  it('are all in the README troubleshooting table', () => {
    const codes = [...CORE_ERROR_CODES, ...REGISTRY_ERROR_CODES, ...ADMIN_ERROR_CODES];
    const missing = codes.filter((code) => !readme.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
