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
