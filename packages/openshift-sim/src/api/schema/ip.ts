/** IP addresses and CIDRs as the Kubernetes CEL ip library and the schema formats parse them. */
import { isIPv4, isIPv6 } from 'node:net';

/** An IP address (the `net.IP` CEL type). */
export class CelIP {
  constructor(
    readonly family: 4 | 6,
    readonly bits: bigint,
    readonly text: string,
  ) {}
}

/** A CIDR (the `net.CIDR` CEL type). */
export class CelCIDR {
  constructor(
    readonly address: CelIP,
    readonly prefix: number,
  ) {}
}

function ipv4Bits(text: string): bigint {
  return text.split('.').reduce((bits, octet) => (bits << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Groups(part: string): bigint[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [BigInt(parseInt(group, 16))];
    const bits = ipv4Bits(group);
    return [bits >> 16n, bits & 0xffffn];
  });
}

function ipv6Bits(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const left = ipv6Groups(head);
  const right = tail === undefined ? [] : ipv6Groups(tail);
  const groups = [...left, ...Array<bigint>(8 - left.length - right.length).fill(0n), ...right];
  return groups.reduce((bits, group) => (bits << 16n) | group, 0n);
}

/** netip.ParseAddr as the Kubernetes CEL ip library uses it: no zones, no IPv4-mapped IPv6. */
export function parseIp(text: string): CelIP | undefined {
  if (text.includes('%')) return undefined;
  if (isIPv4(text)) return new CelIP(4, ipv4Bits(text), text);
  if (!isIPv6(text)) return undefined;
  const bits = ipv6Bits(text);
  return bits >> 32n === 0xffffn ? undefined : new CelIP(6, bits, text);
}

export function parseCidr(text: string): CelCIDR | undefined {
  const [address = '', prefix, extra] = text.split('/');
  const ip = parseIp(address);
  if (!ip || prefix === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefix)) return undefined;
  const length = Number(prefix);
  return length <= (ip.family === 4 ? 32 : 128) ? new CelCIDR(ip, length) : undefined;
}

export function cidrContains(cidr: CelCIDR, ip: CelIP): boolean {
  if (cidr.address.family !== ip.family) return false;
  const shift = BigInt((ip.family === 4 ? 32 : 128) - cidr.prefix);
  return cidr.address.bits >> shift === ip.bits >> shift;
}
