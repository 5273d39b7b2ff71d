// The runner's `main` entry (bundled to dist/main.js): the only module with work at import time.
import { main } from '../main.js';
import { run } from '../run.js';

await run(() => main());
