// The runner's `post` entry (bundled to dist/post.js): cleanup, which only ever warns.
import { post } from '../post.js';
import { run } from '../run.js';

await run(() => post(), 'warn');
