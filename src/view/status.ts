import Table from 'cli-table3';
import { formatBytes } from '../config/units.ts';
import type { StatusReport } from '../model/status.ts';
import { recordedFailureText } from './failure.ts';
import { skipReasonText } from './reasons.ts';
import { shortTime } from './plan.ts';

/** Human status: stages, volumes, failures, last run. */
export function renderStatus(report: StatusReport, options: { limit?: number } = {}): string {
  const limit = options.limit ?? 20;
  const out: string[] = [];
  const stages = new Table({ head: ['stage', 'objects', 'bytes'], style: { head: [], border: [], compact: true } });
  for (const stage of ['staged', 'delivered', 'purged'] as const) {
    stages.push([stage, String(report.stages[stage].objects), formatBytes(report.stages[stage].bytes)]);
  }
  stages.push(['failing', String(report.failingCount), '']);
  stages.push(['skipped', String(report.skippedCount), '']);
  out.push(`Ledger ${report.stateDir} (serial ${report.ledgerSerial})`, stages.toString());
  const verified = Object.entries(report.verifiedBy).map(([by, n]) => `${n} by ${by}`);
  if (verified.length > 0) out.push(`Verified: ${verified.join(', ')}${report.etagNotComparable > 0 ? `; ${report.etagNotComparable} source ETag(s) not comparable (checked by size + local MD5)` : ''}.`);
  const volumes = new Table({ head: ['volume', 'size', 'free', 'reserve', 'staged'], style: { head: [], border: [], compact: true } });
  for (const v of report.volumes) {
    volumes.push([v.root, formatBytes(v.totalBytes), formatBytes(v.freeBytes), formatBytes(v.reserveBytes), `${v.stagedFiles} (${formatBytes(v.stagedBytes)})`]);
  }
  out.push(volumes.toString());
  if (report.failingCount > 0) {
    const failing = new Table({ head: ['failing object', 'attempts', 'next try', 'last error'], wordWrap: true, colWidths: [40, 10, 25, 60], style: { head: [], border: [], compact: true } });
    for (const f of report.failing.slice(0, limit)) failing.push([f.key, String(f.attempts), f.nextTryAt === undefined ? 'next run' : shortTime(f.nextTryAt), recordedFailureText(f.lastFailure)]);
    out.push(failing.toString());
    if (report.failingCount > Math.min(limit, report.failing.length)) out.push(`... and ${report.failingCount - Math.min(limit, report.failing.length)} more`);
  }
  for (const s of report.stopped.slice(0, limit)) out.push(`stopped: ${JSON.stringify(s.key)}: ${recordedFailureText(s.lastFailure)}; the next run tries it at once`);
  if (report.stoppedCount > Math.min(limit, report.stopped.length)) out.push(`... and ${report.stoppedCount - Math.min(limit, report.stopped.length)} more stopped`);
  for (const s of report.skipped.slice(0, limit)) out.push(`skipped: ${JSON.stringify(s.key)}: ${skipReasonText(s.reason)}`);
  if (report.skippedCount > Math.min(limit, report.skipped.length)) out.push(`... and ${report.skippedCount - Math.min(limit, report.skipped.length)} more skipped`);
  out.push(lastRunLine(report));
  if (report.lock) out.push(runningLine(report.lock));
  return `${out.join('\n')}\n`;
}

/** The last finished run in words: when, and what it moved. */
function finishedText(lastRun: Record<string, unknown>): string {
  const r = lastRun as { finishedAt?: string; failures?: number; uploaded?: { count: number }; downloaded?: { count: number }; adopted?: number };
  // After a reset, a run may only adopt: those count too.
  const adopted = r.adopted ? `, ${r.adopted} adopted` : '';
  return `finished ${r.finishedAt}, ${r.downloaded?.count ?? 0} downloaded, ${r.uploaded?.count ?? 0} delivered${adopted}, ${r.failures ?? 0} failed`;
}

/** The last run: the one in progress, cut short or failed since the last finished one, and that one. */
function lastRunLine(report: StatusReport): string {
  const before = report.lastRun ? `the run before it ${finishedText(report.lastRun)}` : 'no run finished before it';
  const run = report.run;
  if (run === undefined) return report.lastRun ? `Last run: ${finishedText(report.lastRun)}.` : 'Last run: none yet.';
  if (run.state === 'running') return `Last run: in progress (pid ${run.pid}, started ${run.startedAt}); ${before}.`;
  if (run.state === 'cut-short') return `Last run: cut short (killed or power cut): ${run.command}, pid ${run.pid}, started ${run.startedAt}; ${before}. What it had in flight is done again by the next run.`;
  return `Last run: failed ${run.endedAt}: ${run.error} (${run.command}, pid ${run.pid}, started ${run.startedAt}); ${before}.`;
}

/** Who holds the lock now; `watch` holds it between cycles too, so its last cycle is shown. */
function runningLine(lock: NonNullable<StatusReport['lock']>): string {
  const who = `pid ${lock.pid} on ${lock.host}, since ${lock.startedAt}`;
  if (!lock.command.startsWith('dualsync watch')) return `Running now: ${lock.command} (${who}).`;
  const last = lock.lastCycle ? `last cycle #${lock.lastCycle.number} ended ${lock.lastCycle.endedAt}: ${lock.lastCycle.result}` : 'first cycle still running';
  return `Running now: watch running (${who}; ${last}).`;
}
