import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` one level at a time, returning the directories it created (outermost first), so a caller can
 * remove exactly those.
 *
 * Not `mkdir(path, { recursive: true })`: Node's native recursion reads ENOENT as "the parent is missing",
 * creates the parent (EEXIST: fine) and retries the child — forever where the kernel answers ENOENT for a
 * child of a directory that exists but cannot hold new entries (procfs: `/proc/x/y` spins at 100% CPU and
 * never settles). Here ENOENT right after the parent was found or made is final, so every bad path fails
 * after at most one mkdir per path component.
 */
export async function makeDirectories(path: string, mode?: number): Promise<string[]> {
  const target = resolve(path);
  // Walk up to the nearest existing ancestor; `missing` lists what to create, innermost first.
  const missing: string[] = [];
  let current = target;
  for (;;) {
    const found = await stat(current).then(
      (stats) => stats,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      },
    );
    if (found !== undefined) {
      if (!found.isDirectory()) throw errno('ENOTDIR', `${current} is not a directory`, current);
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  const created: string[] = [];
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, mode === undefined ? {} : { mode });
      created.push(dir);
    } catch (error) {
      // Someone else made it meanwhile: fine if it is a directory.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!(await stat(dir)).isDirectory()) throw errno('ENOTDIR', `${dir} is not a directory`, dir);
    }
  }
  return created;
}

function errno(code: string, message: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, path, syscall: 'mkdir' });
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted there',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  ENOENT: 'the place cannot hold new files (a virtual file system such as /proc or /sys?)',
  ENOSPC: 'no space is left on the device',
  EEXIST: 'a file of that name is in the way',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

/**
 * What went wrong with a path, in words with the errno after it (`permission denied (EACCES)`); undefined
 * for an error that is not a file system error (so the caller rethrows it unchanged).
 */
export function fileSystemProblem(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return undefined;
  return `${REASONS[code] ?? 'the file system refused'} (${code})`;
}
