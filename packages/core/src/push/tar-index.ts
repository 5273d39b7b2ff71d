import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { RegistryPushError } from '../errors.js';

/** Where one regular file sits inside an uncompressed tar. */
export interface TarMember {
  name: string;
  offset: number;
  size: number;
}

const BLOCK = 512;

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

function octal(block: Buffer, start: number, length: number): number {
  // Sizes above 8 GiB use the base-256 form: high bit set, big-endian binary.
  if ((block[start] ?? 0) & 0x80) {
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + (block[i] ?? 0);
    return value;
  }
  const text = field(block, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxPath(data: Buffer): string | undefined {
  let rest = data.toString('utf8');
  while (rest.length > 0) {
    const space = rest.indexOf(' ');
    const length = Number(rest.slice(0, space));
    if (space < 0 || !Number.isFinite(length) || length <= 0) return undefined;
    const record = rest.slice(space + 1, length - 1);
    if (record.startsWith('path=')) return record.slice(5);
    rest = rest.slice(length);
  }
  return undefined;
}

function normalise(name: string): string {
  return name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
}

/**
 * Index the regular files of an uncompressed tar (ustar, GNU long names, pax paths) by reading only its
 * headers, so members can then be streamed by offset without unpacking the archive.
 */
export async function indexTar(path: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const block = Buffer.alloc(BLOCK);
    let offset = 0;
    let longName: string | undefined;
    while (offset + BLOCK <= fileSize) {
      await handle.read(block, 0, BLOCK, offset);
      if (block.every((byte) => byte === 0)) break;
      const magic = field(block, 257, 6);
      if (!magic.startsWith('ustar')) {
        throw new RegistryPushError(
          'SOURCE_INVALID',
          `${path} is not an uncompressed tar archive (bad header at byte ${offset}).`,
          {
            hint: 'Give the archive as written by podman save, docker save or an oci-archive export (not gzipped).',
          },
        );
      }
      const size = octal(block, 124, 12);
      const type = String.fromCharCode(block[156] ?? 0);
      const prefix = field(block, 345, 155);
      const baseName = field(block, 0, 100);
      const dataOffset = offset + BLOCK;
      const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'L' || type === 'x') {
        const data = Buffer.alloc(size);
        await handle.read(data, 0, size, dataOffset);
        longName = type === 'L' ? field(data, 0, size) : (paxPath(data) ?? longName);
      } else {
        const name = normalise(longName ?? (prefix === '' ? baseName : `${prefix}/${baseName}`));
        longName = undefined;
        if (type === '0' || type === '\0' || type === '7')
          members.set(name, { name, offset: dataOffset, size });
      }
      offset = next;
    }
  } finally {
    await handle.close();
  }
  return members;
}

/** A stream over the bytes of a member that is not empty. */
export function openTarMember(path: string, member: TarMember): Readable {
  return createReadStream(path, {
    start: member.offset,
    end: member.offset + member.size - 1,
    highWaterMark: 1 << 20,
  });
}

/** The first `length` bytes of a member (for sniffing its format). */
export async function readTarHead(path: string, member: TarMember, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(length, member.size));
    await handle.read(buffer, 0, buffer.length, member.offset);
    return buffer;
  } finally {
    await handle.close();
  }
}
