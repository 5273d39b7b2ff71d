import { registryDoctor, type DoctorCheck } from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import { caOption, tlsVerify, type CommandResult, type Io } from '../context.js';
import { stringOption, type Options } from '../options.js';

const MARK: Record<DoctorCheck['status'], string> = {
  pass: 'ok  ',
  warn: 'WARN',
  fail: 'FAIL',
  skip: 'skip',
};

function lines(check: DoctorCheck): string[] {
  const code = check.code === undefined ? '' : ` [${check.code}]`;
  const head = `[${MARK[check.status]}] ${check.title}: ${check.detail}${code}`;
  return check.fix === undefined || check.status === 'pass' ? [head] : [head, `       fix: ${check.fix}`];
}

/** `registry-push doctor`: every check a push or prune needs, with the fix for each failure; exit 1 on any. */
export async function doctorCommand(options: Options, io: Io): Promise<CommandResult> {
  const namespace = stringOption(options, 'namespace');
  const host = stringOption(options, 'registry');
  const username = stringOption(options, 'username');
  const caPem = caOption(options);
  const report = await registryDoctor(clusterClient(options, io), {
    ...(namespace === undefined ? {} : { namespace }),
    ...(host === undefined ? {} : { host }),
    ...(username === undefined ? {} : { username }),
    ...(caPem === undefined ? {} : { caPem }),
    ...(options.prune === true ? { prune: true } : {}),
    tlsVerify: tlsVerify(options),
  });
  const count = (status: DoctorCheck['status']): number =>
    report.checks.filter((check) => check.status === status).length;
  const failed = count('fail');
  return {
    json: report,
    text: [
      ...report.checks.flatMap(lines),
      `${report.checks.length} checks: ${count('pass')} passed, ${count('warn')} warnings, ${failed} failed, ${count('skip')} skipped`,
    ],
    exitCode: failed > 0 ? 1 : 0,
  };
}
