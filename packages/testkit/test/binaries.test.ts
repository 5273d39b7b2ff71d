import { afterEach, describe, expect, it, vi } from 'vitest';
import { findOnPath, requireBinary, startRedis, startRegistry, TestkitError } from '../src/index.js';

describe('system binaries', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('finds programs on PATH', () => {
    expect(findOnPath('redis-server')).toMatch(/redis-server$/);
    expect(findOnPath('no-such-program-registry-push', '/usr/bin:/bin')).toBeUndefined();
  });

  it('names the Debian package when a binary is missing', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    expect(() => requireBinary('docker-registry')).toThrowError(/apt-get install -y docker-registry/);
    await expect(startRedis()).rejects.toMatchObject({ code: 'missing-binary' });
    const error = await startRegistry().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TestkitError);
    expect((error as TestkitError).message).toContain('"docker-registry"');
  });
});
