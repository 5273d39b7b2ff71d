// The undo window's settings: from PRUNER_UNDO_WINDOW, else the policy's undoWindow, else 24 h; a bad value
// stops the command with one line naming the setting.
import { describe, expect, it } from 'vitest';
import { DEFAULT_UNDO_WINDOW_MS, loadSettings } from '../src/settings.js';

describe('undo window settings', () => {
  it('takes the variable, else the policy, else 24 h, and keeps undoWindow out of the core policy', () => {
    expect(loadSettings({}).undoWindowMs).toBe(DEFAULT_UNDO_WINDOW_MS);
    expect(DEFAULT_UNDO_WINDOW_MS).toBe(24 * 3_600_000);
    expect(loadSettings({ PRUNER_UNDO_WINDOW: '0' }).undoWindowMs).toBe(0);
    const fromPolicy = loadSettings({ PRUNER_POLICY: '{"undoWindow":"90m","tagExclude":"^rel"}' });
    expect(fromPolicy.undoWindowMs).toBe(90 * 60_000);
    expect(fromPolicy.policy).toEqual({ tagExclude: '^rel' });
    expect(
      loadSettings({ PRUNER_POLICY: '{"undoWindow":"90m"}', PRUNER_UNDO_WINDOW: '2h' }).undoWindowMs,
    ).toBe(2 * 3_600_000);
    expect(loadSettings({}).undoRetentionMs).toBe(7 * 24 * 3_600_000);
    expect(loadSettings({ PRUNER_UNDO_RETENTION: '1h' }).undoRetentionMs).toBe(3_600_000);
  });

  it('names a bad value', () => {
    expect(() => loadSettings({ PRUNER_UNDO_WINDOW: 'tomorrow' })).toThrow(
      expect.objectContaining({ code: 'PRUNER_SETTING_INVALID' }) as Error,
    );
    expect(() => loadSettings({ PRUNER_UNDO_WINDOW: 'tomorrow' })).toThrow(/PRUNER_UNDO_WINDOW/);
    expect(() => loadSettings({ PRUNER_UNDO_WINDOW: '1000h' })).toThrow(/PRUNER_UNDO_WINDOW/);
    expect(() => loadSettings({ PRUNER_POLICY: '{"undoWindow":24}' })).toThrow(/undoWindow/);
    expect(() => loadSettings({ PRUNER_UNDO_RETENTION: '-1h' })).toThrow(/PRUNER_UNDO_RETENTION/);
  });
});

describe('registry-pruner restore usage', () => {
  const run = async (args: string[]): Promise<{ code: number; stderr: string }> => {
    const { main } = await import('../src/main.js');
    const stderr: string[] = [];
    // Usage is checked before Redis or the cluster are contacted: nothing here listens.
    const code = await main(args, {
      stdout: () => undefined,
      stderr: (text) => void stderr.push(text),
      env: { REDIS_URL: 'redis://127.0.0.1:9' },
    });
    return { code, stderr: stderr.join('\n') };
  };

  it('needs a run, a digest for --image and NS/NAME[:TAG] for --stream, each with one coded line', async () => {
    for (const [args, says] of [
      [['restore'], 'restore needs the run id'],
      [['restore', 'r1', '--image', 'latest'], '--image must be an image digest'],
      [['restore', 'r1', '--stream', 'app'], '--stream must be NAMESPACE/NAME'],
      [['restore', 'r1', '--stream', 'a/b:c:d'], '--stream must be NAMESPACE/NAME'],
      [['restore', 'r1', 'r2'], 'Unexpected argument "r2"'],
    ] as const) {
      const result = await run([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(says);
      expect(result.stderr).toMatch(/\[PRUNER_USAGE\]$/);
      expect(result.stderr.split('\n')).toHaveLength(1);
    }
  });
});
