// One pull or copy in its own process, so the test can read this process's own peak RSS against the RSS
// it had just before the transfer began. Reads the built package (run `npm run build` first).
// argv: <pull|copy> <source> <destination>; REGISTRY_* options come from the environment as JSON.
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { copyImage, pullImage } from '../../dist/push-entry.js';

const [mode, source, destination] = process.argv.slice(2);
const connection = JSON.parse(process.env.TRANSFER_CONNECTION ?? '{}');
// V8 collects buffers that went out of use only when external memory has grown by tens of MiB, so peak
// RSS would measure that heuristic, not what the transfer holds: collect often, so the peak is what is live.
const gc = globalThis.gc ?? (() => undefined);
gc();
const collector = setInterval(gc, 10);
const before = process.memoryUsage().rss;
const result =
  mode === 'pull'
    ? await pullImage({ source, destination, connection })
    : await copyImage({
        source,
        destination,
        sourceConnection: connection,
        destinationConnection: connection,
      });
clearInterval(collector);
// maxRSS is in KiB.
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(
  `${JSON.stringify({ digest: result.digest, beforeMiB: before / 2 ** 20, peakMiB: peak / 2 ** 20 })}\n`,
);
