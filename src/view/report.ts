/** How `dualsync report` is shown: CSV, JSON Lines, the human summary, and the verify verdict. Pure. */
import type { CustodyRow, ReportTotals, VerifyResult } from '../model/report.ts';
import { recordedFailureText } from './failure.ts';
import { skipReasonText } from './reasons.ts';

/**
 * A CSV column: the row's field of that name, but `lastError`, the last failure in words, and
 * `skipReason`, the skip reason in words (a spreadsheet is read by people; JSON Lines carry the codes).
 */
type CsvColumn = Exclude<keyof CustodyRow, 'lastFailure'> | 'lastError';

/** The CSV columns, in order. */
export const CSV_COLUMNS: readonly CsvColumn[] = [
  'key', 'size', 'sourceEtag', 'localMd5', 'destinationEtag', 'stage', 'verifiedBy', 'adoptedBy', 'volume', 'stagedAt', 'deliveredAt', 'purgedAt', 'attempts', 'lastError', 'skipReason',
];

function csvValue(row: CustodyRow, column: CsvColumn): unknown {
  if (column === 'lastError') return row.lastFailure === undefined ? undefined : recordedFailureText(row.lastFailure);
  if (column === 'skipReason') return row.skipReason === undefined ? undefined : skipReasonText(row.skipReason);
  return row[column];
}

function csvField(value: unknown): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\n`;
}

export function csvRow(row: CustodyRow): string {
  return `${CSV_COLUMNS.map((column) => csvField(csvValue(row, column))).join(',')}\n`;
}

export function jsonlRow(row: CustodyRow): string {
  return `${JSON.stringify(row)}\n`;
}

/** Totals per stage, bytes, first and last delivery, failures, and the head hash to sign. */
export function renderReportSummary(totals: ReportTotals): string {
  const lines = [`Objects: ${totals.rows} (${totals.bytes} bytes)`];
  for (const [stage, group] of Object.entries(totals.stages).sort()) lines.push(`  ${stage.padEnd(10)} ${String(group.objects).padStart(9)} objects ${String(group.bytes).padStart(15)} bytes`);
  lines.push(`First delivery: ${totals.firstDelivery ?? '-'}`);
  lines.push(`Last delivery:  ${totals.lastDelivery ?? '-'}`);
  lines.push(`Failing: ${totals.failures}`);
  lines.push(`Event log: ${totals.events} event(s); head hash ${totals.headHash}`);
  return `${lines.join('\n')}\n`;
}

export function renderVerify(result: VerifyResult): string {
  if (!result.ok) return `Ledger does NOT verify: ${result.problem}\n`;
  const uncovered = result.uncovered > 0 ? `\n${result.uncovered} record(s) predate the event log and are not covered by it.` : '';
  return `Ledger verifies: ${result.events} event(s) chain to head hash ${result.headHash}; every record matches its last event.${uncovered}\n`;
}
