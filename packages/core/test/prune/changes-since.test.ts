// The short watch's reading: silence ends it, but only real silence. The event source here reads JSON lines
// from a real loopback socket, as a watch does; the peer writes the second change and then keeps the event
// loop busy for longer than the quiet time, so that when the loop comes back the quiet timer is due before
// the socket is read (timers run before I/O in each turn) — what a busy worker sees.
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../src/cluster/watch.js';
import { newestChange, type EventSource } from '../../src/prune/changes-since.js';

const event = (type: 'ADDED' | 'BOOKMARK', resourceVersion: string): string =>
  `${JSON.stringify({ type, object: { metadata: { name: 'x', resourceVersion } } })}\n`;

/** Events parsed from the lines a socket receives. */
function lines(socket: Socket): EventSource & { ended: () => void } {
  const queue: (WatchEvent | undefined)[] = [];
  let wake: (() => void) | undefined;
  let partial = '';
  const push = (item: WatchEvent | undefined): void => {
    queue.push(item);
    wake?.();
  };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) push(JSON.parse(line) as WatchEvent);
  });
  return {
    async next() {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return queue.shift();
    },
    ended: () => push(undefined),
  };
}

const busy = (ms: number): void => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // The worker is busy: nothing else runs.
  }
};

let server: Server | undefined;
let client: Socket | undefined;
afterEach(async () => {
  client?.destroy();
  if (server !== undefined) await new Promise((resolve) => server!.close(resolve));
});

async function pair(): Promise<{ peer: Socket; source: ReturnType<typeof lines> }> {
  server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  client = connect(address.port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = await accepted;
  return { peer, source: lines(client) };
}

describe('the short watch of a live view', () => {
  it('does not take a busy moment for silence: a change already on the socket is read', async () => {
    const { peer, source } = await pair();
    peer.write(event('ADDED', '11'));
    // After the first event is read: the second change reaches the socket, then the loop is held up.
    setTimeout(() => {
      setImmediate(() => {
        peer.write(event('ADDED', '12'));
        busy(150);
      });
    }, 5);
    expect(await newestChange(source, '10', '12', 50)).toBe('12');
  });

  it('ends at real silence with the newest change read, and at a bookmark at or past the target', async () => {
    const { peer, source } = await pair();
    peer.write(event('ADDED', '11') + event('ADDED', '13'));
    expect(await newestChange(source, '10', '20', 50)).toBe('13');
    peer.write(event('BOOKMARK', '15') + event('BOOKMARK', '21') + event('ADDED', '30'));
    expect(await newestChange(source, '13', '21', 5_000)).toBe('13');
  });

  it('ends with the stream, keeping where it started when nothing changed', async () => {
    const { source } = await pair();
    setTimeout(() => source.ended(), 5);
    expect(await newestChange(source, '10', '20', 5_000)).toBe('10');
  });
});
