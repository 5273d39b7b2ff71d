// The container logs of simulated pods, and `GET /api/v1/namespaces/<ns>/pods/<name>/log` as kube-apiserver
// answers it (through the kubelet): the PodLogOptions query (container, follow, sinceSeconds, sinceTime,
// tailLines, timestamps, limitBytes), validated as kube validates them, text/plain lines, and a follow that
// streams new lines until the pod is gone or the client hangs up.
import type { ServerResponse } from 'node:http';
import { errors, type StatusCause } from './status.js';

/** One line a container wrote, with when. */
interface LogLine {
  at: Date;
  text: string;
}

/** A listener for new lines of one container; `end` when the pod is gone. */
interface Follower {
  line: (line: LogLine) => void;
  end: () => void;
}

const key = (namespace: string, pod: string): string => `${namespace}/${pod}`;

/**
 * The lines kept per pod: older ones are dropped, as the kubelet rotates a container's log (10 MiB by
 * default), so a long-running simulator answering many registry requests does not grow without bound.
 */
export const KEPT_LINES = 10_000;
const TRIM_EVERY = 1_000;

/** The log lines of every simulated pod (one container each), and who follows them. */
export class PodLogs {
  private readonly lines = new Map<string, LogLine[]>();
  private readonly followers = new Map<string, Set<Follower>>();

  /** A container writes one line (no newline). */
  append(namespace: string, pod: string, text: string, at = new Date()): void {
    const id = key(namespace, pod);
    const line = { at, text };
    const list = this.lines.get(id) ?? [];
    list.push(line);
    // Trimmed a thousand lines at a time (not one per line, which moved 10k entries per registry request).
    if (list.length > KEPT_LINES + TRIM_EVERY) list.splice(0, list.length - KEPT_LINES);
    this.lines.set(id, list);
    for (const follower of this.followers.get(id) ?? []) follower.line(line);
  }

  /** The pod is gone: its followers' streams end and its lines are dropped. */
  remove(namespace: string, pod: string): void {
    const id = key(namespace, pod);
    for (const follower of this.followers.get(id) ?? []) follower.end();
    this.followers.delete(id);
    this.lines.delete(id);
  }

  /** The lines written so far (the last {@link KEPT_LINES}). */
  read(namespace: string, pod: string): readonly LogLine[] {
    const list = this.lines.get(key(namespace, pod)) ?? [];
    return list.length > KEPT_LINES ? list.slice(-KEPT_LINES) : list;
  }

  /** Follows new lines; returns the function that stops following. */
  follow(namespace: string, pod: string, follower: Follower): () => void {
    const id = key(namespace, pod);
    const set = this.followers.get(id) ?? new Set<Follower>();
    set.add(follower);
    this.followers.set(id, set);
    return () => set.delete(follower);
  }
}

/** The parsed PodLogOptions of a log request. */
export interface PodLogOptions {
  container?: string;
  follow: boolean;
  timestamps: boolean;
  sinceSeconds?: number;
  sinceTime?: Date;
  tailLines?: number;
  limitBytes?: number;
}

function integerParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  if (!/^-?\d+$/.test(text)) {
    throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text);
}

function booleanParam(query: URLSearchParams, name: string): boolean {
  const text = query.get(name);
  if (text === null || text === '') return false;
  if (/^(1|t|T|true|TRUE|True)$/.test(text)) return true;
  if (/^(0|f|F|false|FALSE|False)$/.test(text)) return false;
  throw errors.badRequest(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
}

/** PodLogOptions validation (kube's ValidatePodLogOptions), as Status causes. */
function optionProblems(options: {
  tailLines: number | undefined;
  limitBytes: number | undefined;
  sinceSeconds: number | undefined;
  sinceTime: Date | undefined;
}): StatusCause[] {
  const { tailLines, limitBytes, sinceSeconds, sinceTime } = options;
  const causes: StatusCause[] = [];
  if (tailLines !== undefined && tailLines < 0) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'tailLines',
      message: `Invalid value: ${tailLines}: must be greater than or equal to 0`,
    });
  }
  if (limitBytes !== undefined && limitBytes < 1) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'limitBytes',
      message: `Invalid value: ${limitBytes}: must be greater than 0`,
    });
  }
  if (sinceSeconds !== undefined && sinceTime !== undefined) {
    causes.push({
      reason: 'FieldValueForbidden',
      message: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified',
    });
  }
  if (sinceSeconds !== undefined && sinceSeconds < 1) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'sinceSeconds',
      message: `Invalid value: ${sinceSeconds}: must be greater than 0`,
    });
  }
  return causes;
}

/**
 * The query as kube decodes and validates PodLogOptions: a malformed number or boolean is 400; a negative
 * tailLines, a sinceSeconds or limitBytes under 1, or both sinceSeconds and sinceTime is 422 Invalid.
 */
export function parsePodLogOptions(pod: string, query: URLSearchParams): PodLogOptions {
  const container = query.get('container') ?? undefined;
  const sinceSeconds = integerParam(query, 'sinceSeconds');
  const tailLines = integerParam(query, 'tailLines');
  const limitBytes = integerParam(query, 'limitBytes');
  const sinceText = query.get('sinceTime');
  let sinceTime: Date | undefined;
  if (sinceText !== null) {
    sinceTime = new Date(sinceText);
    if (!/^\d{4}-\d\d-\d\dT/.test(sinceText) || Number.isNaN(sinceTime.getTime())) {
      throw errors.badRequest(
        `parsing time ${JSON.stringify(sinceText)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(sinceText)} as "2006"`,
      );
    }
  }
  const causes = optionProblems({ tailLines, limitBytes, sinceSeconds, sinceTime });
  if (causes.length > 0)
    throw errors.invalid({ group: '', resource: 'pods', name: pod, kind: 'PodLogOptions' }, causes);
  return {
    ...(container === undefined ? {} : { container }),
    follow: booleanParam(query, 'follow'),
    timestamps: booleanParam(query, 'timestamps'),
    ...(sinceSeconds === undefined ? {} : { sinceSeconds }),
    ...(sinceTime === undefined ? {} : { sinceTime }),
    ...(tailLines === undefined ? {} : { tailLines }),
    ...(limitBytes === undefined ? {} : { limitBytes }),
  };
}

/** RFC 3339 with nanoseconds, as the kubelet prefixes lines with `timestamps=true`. */
function timestamp(at: Date): string {
  return at.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** The container of a pod a log request is for: the only one, or the named one (400 otherwise). */
export function logContainer(pod: string, containers: readonly string[], asked: string | undefined): string {
  if (asked === undefined || asked === '') {
    if (containers.length === 1) return containers[0] ?? '';
    throw errors.badRequest(
      `a container name must be specified for pod ${pod}, choose one of: [${containers.join(' ')}]`,
    );
  }
  if (!containers.includes(asked)) throw errors.badRequest(`container ${asked} is not valid for pod ${pod}`);
  return asked;
}

/**
 * Answers a log request: the selected lines, then, with follow, each new line until the pod is gone (its
 * lines removed, or `exists` false when checked every `checkMs`) or the client closes the connection.
 */
export function serveLogs(
  res: ServerResponse,
  logs: PodLogs,
  target: { namespace: string; pod: string; exists: () => boolean; checkMs?: number },
  options: PodLogOptions,
): void {
  const since =
    options.sinceTime ??
    (options.sinceSeconds === undefined ? undefined : new Date(Date.now() - options.sinceSeconds * 1000));
  let lines = logs
    .read(target.namespace, target.pod)
    .filter((line) => since === undefined || line.at >= since);
  if (options.tailLines !== undefined) lines = options.tailLines === 0 ? [] : lines.slice(-options.tailLines);
  let budget = options.limitBytes ?? Infinity;
  const format = (line: LogLine): string =>
    `${options.timestamps ? `${timestamp(line.at)} ` : ''}${line.text}\n`;
  const write = (line: LogLine): boolean => {
    if (budget <= 0) return false;
    const text = Buffer.from(format(line));
    const part = text.length > budget ? text.subarray(0, budget) : text;
    budget -= part.length;
    res.write(part);
    return budget > 0;
  };
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  for (const line of lines) if (!write(line)) break;
  if (!options.follow || budget <= 0) {
    res.end();
    return;
  }
  res.flushHeaders();
  const stop = logs.follow(target.namespace, target.pod, {
    line: (line) => {
      if (!write(line)) finish();
    },
    end: () => finish(),
  });
  // A pod deleted through the API (not by the operator) ends the stream too, as the kubelet's does.
  const check = setInterval(() => {
    if (!target.exists()) finish();
  }, target.checkMs ?? 250);
  check.unref();
  function finish(): void {
    stop();
    clearInterval(check);
    if (!res.writableEnded) res.end();
  }
  res.once('close', () => {
    stop();
    clearInterval(check);
  });
}
