import { once } from 'node:events';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { userError } from '../../errors.ts';
import type { REPORT_STAGES as STAGES_OF_THE_REPORT, ReportFilters } from '../../ops/report.ts';

// ops/report.ts's list, written here so that loading the commands does not load the ledger; the
// type makes it the same list, in the same order.
const REPORT_STAGES: typeof STAGES_OF_THE_REPORT = ['staged', 'delivered', 'purged', 'failing', 'skipped', 'none'];

/** A --since/--until value as ISO 8601 UTC, or a clear error naming the flag. */
function instant(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw userError('E_USAGE', `${flag} ${JSON.stringify(value)} is not a date or time`, { hint: `write it as ISO 8601, like ${flag} 2026-01-31 or ${flag} 2026-01-31T12:00:00Z` });
  return new Date(ms).toISOString();
}

export class ReportCommand extends BaseCommand {
  static override paths = [['report']];
  static override usage = Command.Usage({
    description: 'the chain of custody from the ledger, and proof that the ledger was not edited',
    details: `
      One row per object version: key, size, source ETag, local MD5, destination ETag, stage,
      how it was verified, the volume, when it was staged, delivered and purged, attempts and the
      last error. By default a short summary; \`--format csv|jsonl\` prints every row (streamed).
      Filters: \`--since\`, \`--until\` (on when it last moved), \`--stage\`, \`--key-prefix\`.

      Prints the head hash of the ledger's event log: keep it on the handover form.
      \`--verify\` walks the event log and names the first event, or ledger row, that does not
      match; exit 1 then.
    `,
    examples: [
      ['Summary and head hash', 'dualsync report'],
      ['Every delivered object as CSV', 'dualsync report --format csv --stage delivered > custody.csv'],
      ['Prove the ledger was not edited', 'dualsync report --verify'],
    ],
  });

  format = Option.String('--format', { description: 'csv or jsonl: every row instead of the summary' });
  since = Option.String('--since', { description: 'Rows that last moved at or after this time' });
  until = Option.String('--until', { description: 'Rows that last moved before this time' });
  stage = Option.String('--stage', { description: `One of ${REPORT_STAGES.join(', ')}` });
  keyPrefix = Option.String('--key-prefix', { description: 'Rows whose key starts with this' });
  verify = Option.Boolean('--verify', false, { description: 'Walk the event log; exit 1 at the first mismatch' });

  async run(): Promise<number> {
    const [{ engineDeps, loadConfigFor }, { runReport, verifyLedger }, { csvHeader, csvRow, jsonlRow, renderReportSummary, renderVerify }] = await Promise.all([
      import('../context.ts'),
      import('../../ops/report.ts'),
      import('../../view/report.ts'),
    ]);
    const config = await loadConfigFor(this.context, this.configPath());
    const deps = engineDeps(this.context);
    const out = this.context.stdout;
    if (this.verify) {
      const result = await verifyLedger(config, deps);
      out.write(renderVerify(result));
      return result.ok ? 0 : 1;
    }
    if (this.format !== undefined && this.format !== 'csv' && this.format !== 'jsonl') {
      throw userError('E_USAGE', `--format ${JSON.stringify(this.format)} is not one of csv, jsonl`, { hint: 'leave it out for the summary' });
    }
    if (this.stage !== undefined && !(REPORT_STAGES as readonly string[]).includes(this.stage)) {
      throw userError('E_USAGE', `--stage ${JSON.stringify(this.stage)} is not one of ${REPORT_STAGES.join(', ')}`);
    }
    const filters: ReportFilters = { since: instant('--since', this.since), until: instant('--until', this.until), stage: this.stage, keyPrefix: this.keyPrefix };
    if (this.format === 'csv') out.write(csvHeader());
    // Between batches the report waits for the reader: a slow pipe holds back the reading, not memory.
    const drained = async (): Promise<void> => {
      if (out.writableNeedDrain) await once(out, 'drain');
    };
    const totals = await runReport(
      config,
      deps,
      filters,
      (row) => {
        if (this.format === 'csv') out.write(csvRow(row));
        else if (this.format === 'jsonl') out.write(jsonlRow(row));
      },
      drained,
    );
    (this.format === undefined ? out : this.context.stderr).write(renderReportSummary(totals));
    return 0;
  }
}
