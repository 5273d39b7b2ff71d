import type { PushEvent, TransferEvent } from '@registry-push/core';
import type { Io } from './context.js';

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function short(digest: string): string {
  return digest.slice(0, 19);
}

/**
 * Push (pull, copy) progress for people and for logs: on a terminal one status line rewritten at most ten
 * times a second; in a CI log one line per finished blob, retry and tag, so the log stays readable.
 */
export function pushProgress(io: Io, verb = 'pushing'): (event: PushEvent | TransferEvent) => void {
  const sent = new Map<string, number>();
  let totalBytes = 0;
  let totalBlobs = 0;
  let doneBlobs = 0;
  let lastDraw = 0;
  const draw = (force = false): void => {
    if (io.statusLine === undefined) return;
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const bytes = [...sent.values()].reduce((sum, value) => sum + value, 0);
    io.statusLine(`${verb}: ${doneBlobs}/${totalBlobs} blobs, ${mib(bytes)} of ${mib(totalBytes)}`);
  };
  return (event) => {
    switch (event.kind) {
      case 'loaded':
        totalBytes = event.bytes;
        totalBlobs = event.blobs;
        io.stderr(`source: ${event.description} (${event.blobs} blobs, ${mib(event.bytes)})`);
        return;
      case 'blob-progress':
        sent.set(event.digest, event.sent);
        draw();
        return;
      case 'blob-done':
        doneBlobs++;
        sent.set(event.digest, event.size);
        if (io.statusLine === undefined)
          io.stderr(`blob ${short(event.digest)} ${mib(event.size)} ${event.outcome}`);
        else draw(true);
        return;
      case 'retry':
        io.stderr(`retry ${event.attempt} in ${event.delayMs} ms: ${event.action}: ${event.reason}`);
        return;
      case 'manifest':
        if (io.statusLine !== undefined) io.statusLine('');
        io.stderr(`tagged ${event.reference} ${event.digest}`);
        return;
      case 'blob-start':
        return;
    }
  };
}
