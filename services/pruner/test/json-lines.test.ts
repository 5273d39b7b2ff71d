// The streamed JSON output is byte for byte what JSON.stringify(value, null, 2) gives.
import { describe, expect, it } from 'vitest';
import { jsonPieces, writeJsonLines } from '../src/json-lines.js';

const SAMPLES: unknown[] = [
  null,
  0,
  -1.5e-7,
  'text with "quotes", \\ and\nnewlines \u2028',
  true,
  [],
  {},
  [undefined, () => 1, null, [], {}, [[1, [2]], { a: [] }]],
  { a: undefined, b: () => 1, c: Symbol('s'), d: null, e: { f: { g: [1, 'x', { h: [] }] } } },
  { when: new Date('2026-11-29T12:00:00Z'), nested: { toJSON: () => ({ replaced: true }) } },
  {
    plan: {
      schema: 'registry-push.prune-plan/v1',
      items: Array.from({ length: 300 }, (_, i) => ({
        id: `blob:sha256:${i}`,
        kind: 'blob',
        action: i % 2 === 0 ? 'delete' : 'keep',
        bytes: i * 1000,
        referrer: i % 3 === 0 ? undefined : `Pod demo/web-${i} spec.containers[0].image`,
        sharedWith: i % 5 === 0 ? [] : [`sha256:${i + 1}`],
      })),
      units: [],
    },
    result: { units: [{ unit: 'u', status: 'done', items: [{ outcome: 'deleted' }] }] },
  },
];

describe('jsonPieces / writeJsonLines', () => {
  it('writes every sample exactly as JSON.stringify(value, null, 2)', async () => {
    for (const sample of SAMPLES) {
      const expected = JSON.stringify(sample, null, 2);
      expect([...jsonPieces(sample)].join('')).toBe(expected);
      for (const blockBytes of [1, 100, 1 << 18]) {
        const lines: string[] = [];
        await writeJsonLines(sample, (text) => void lines.push(text), blockBytes);
        expect(lines.join('\n')).toBe(expected);
      }
    }
  });

  it('hands a large value out in blocks of whole lines, waiting while the output is full', async () => {
    const big = { items: Array.from({ length: 20_000 }, (_, i) => ({ id: `item-${i}`, bytes: i })) };
    const blocks: string[] = [];
    let waiting = 0;
    await writeJsonLines(
      big,
      async (text) => {
        // Each block waits for the one before: a writer that is not waited for would see two at once.
        expect(waiting).toBe(0);
        waiting++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        waiting--;
        blocks.push(text);
      },
      64 * 1024,
    );
    expect(blocks.length).toBeGreaterThan(10);
    expect(Math.max(...blocks.map((block) => block.length))).toBeLessThan(2 * 64 * 1024);
    expect(JSON.parse(blocks.join('\n'))).toEqual(big);
  });
});
