/**
 * The doctor's findings: one table of pass / warn / fail (and skip, for a check that does not
 * apply or was not asked for), each failure with its fix, and one summary line. Pure.
 */
import Table from 'cli-table3';
import type { CheckStatus, DoctorReport } from '../model/doctor.ts';

const COLOR: Record<CheckStatus, number> = { pass: 32, warn: 33, fail: 31, skip: 90 };

function paint(color: boolean, status: CheckStatus): string {
  const word = status.toUpperCase();
  return color ? `\u001b[${COLOR[status]}m${word}\u001b[0m` : word;
}

/** The one-line verdict under the table. */
export function doctorSummaryLine(report: DoctorReport): string {
  const { pass, warn, fail, skip } = report.counts;
  const counts = `${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed${skip > 0 ? `, ${skip} skipped` : ''}`;
  return report.ok
    ? `Doctor: ${counts}. ${warn > 0 ? 'Ready, with the warnings above.' : 'Ready.'}`
    : `Doctor: ${counts}. Fix the failures above, then run \`dualsync doctor\` again.`;
}

/** Breaks a long scope (a volume path) into lines at `/`, so the table wraps it instead of cutting it. */
function wrapScope(scope: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const piece of scope.split(/(?<=[/ ])/)) {
    if (line !== '' && line.length + piece.length > width) {
      lines.push(line);
      line = '';
    }
    line += piece;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => l.trimEnd()).join('\n');
}

/** The table of checks; a fix is shown under its finding. */
export function renderDoctor(report: DoctorReport, options: { color?: boolean; width?: number } = {}): string {
  const color = options.color ?? false;
  const width = Math.max(100, options.width ?? 120);
  const scopeWidth = Math.min(34, Math.max(8, ...report.checks.map((c) => c.scope.length + 2)));
  const scopeText = scopeWidth - 2;
  const checkWidth = Math.max(7, ...report.checks.map((c) => c.check.length + 2));
  const detailWidth = width - scopeWidth - checkWidth - 8 - 5;
  const table = new Table({
    head: ['scope', 'check', 'result', 'finding'],
    colWidths: [scopeWidth, checkWidth, 8, detailWidth],
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: { head: [], border: [] },
  });
  for (const check of report.checks) {
    const finding = check.fix !== undefined && check.status !== 'pass' ? `${check.detail}\nFix: ${check.fix}` : check.detail;
    table.push([wrapScope(check.scope, scopeText), check.check, paint(color, check.status), finding]);
  }
  return `Config: ${report.config}\n${table.toString()}\n${doctorSummaryLine(report)}\n`;
}
