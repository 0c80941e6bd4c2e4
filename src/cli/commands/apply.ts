import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { userError } from '../../errors.ts';
import type { Config } from '../../model/index.ts';
import type { PlannedRun } from '../../engine.ts';
import type { StopSignals } from '../signals.ts';
import type { cycleFacts } from '../../watch/facts.ts';
import { parseLogFormat, runLog } from '../log.ts';
import type { ReserveWarning } from '../../model/saved-plan.ts';

export class ApplyCommand extends BaseCommand {
  static override paths = [['apply']];
  static override usage = Command.Usage({
    description: 'move, verify and record what the plan says',
    details: `
      Without FILE, makes a plan, shows it and asks for confirmation (\`--auto-approve\` skips the
      question; without a terminal it is required). With FILE (from \`dualsync plan --out FILE\`),
      applies exactly that plan, or refuses when the source, destination, volumes or
      ledger changed since it was made: a summary first, and the diff when it is short or with
      \`--diff\`. After a power cut a saved plan is always stale; make a fresh one.

      Both hops run at once: each object's upload starts as soon as its download is verified.
      Every object is verified (size; and MD5/ETag with \`verify: etag\`) and recorded in the
      ledger; a staged copy is purged only after the destination copy is verified.

      Ctrl-C or SIGTERM: the apply finishes what it planned (nothing new is planned), the lock is
      released. A second Ctrl-C stops the transfers at once (what was in flight is redone next time).

      An object that failed is retried by the next run; one that fails again backs off
      (\`transfer.retryBackoff\`): it is left out until its next try (\`plan\` and \`status\` show
      when). \`--retry-failed\` tries such objects now.

      Exit codes: 0 all done, 1 an error or at least one object failed (it is retried after its backoff).
    `,
    examples: [
      ['Plan, review, confirm, apply', 'dualsync apply'],
      ['Apply a reviewed plan', 'dualsync apply plan.json'],
      ['Unattended (cron, systemd)', 'dualsync apply --auto-approve'],
      ['Try the objects that wait after failures now', 'dualsync apply --retry-failed'],
    ],
  });

  file = Option.String({ required: false, name: 'FILE' });
  autoApprove = Option.Boolean('--auto-approve', false, { description: 'Do not ask for confirmation' });
  json = Option.Boolean('--json', false, { description: 'Print the result as JSON' });
  diff = Option.Boolean('--diff', false, { description: 'When a saved plan is stale, show the whole diff of its manifests' });
  retryFailed = Option.Boolean('--retry-failed', false, { description: 'Try objects that back off after failures now' });
  logFormat = Option.String('--log-format', 'human', { description: 'human (default), or json: one JSON object per event and line (needs --auto-approve or FILE)' });

  async run(): Promise<number> {
    if (this.file && this.retryFailed) {
      throw userError('E_USAGE', '--retry-failed cannot change a saved plan: it is applied exactly as it was made', {
        hint: 'make the plan with `dualsync plan --retry-failed --out FILE`, or run `dualsync apply --retry-failed` without a plan file',
      });
    }
    if (parseLogFormat(this.logFormat) === 'json' && (this.json || (!this.file && !this.autoApprove))) {
      throw userError('E_USAGE', this.json ? '--log-format json and --json do not go together' : '--log-format json has no plan to show and no question to ask', {
        hint: this.json ? 'use --json for one document at the end, or --log-format json for one line per event' : 'pass --auto-approve, or apply a reviewed plan file',
      });
    }
    const [{ isTty, loadConfigFor }, { onStopSignals }] = await Promise.all([import('../context.ts'), import('../signals.ts')]);
    const config = await loadConfigFor(this.context, this.configPath());
    const interactive = isTty(this.context.stdin) && isTty(this.context.stdout);
    if (!this.file && !this.autoApprove && !interactive) {
      throw userError('E_CONFIRM', 'apply needs a confirmation, and there is no terminal to ask on', {
        hint: 'review with `dualsync plan --out plan.json` and run `dualsync apply plan.json`, or pass --auto-approve',
      });
    }
    const signals = onStopSignals(this.context.stderr, 'finishing this apply');
    try {
      return await this.apply(config, interactive, signals);
    } finally {
      signals.dispose();
    }
  }

  async apply(config: Config, interactive: boolean, signals: StopSignals): Promise<number> {
    const [{ engineDeps }, { runApply }, { renderPlan, planToJson }, { jsonDocument }, { writePieces }, { applyToJson, renderApplyOutcome }, { answeredYes }, { cycleFacts }, { reserveWarningText, wordedSavedPlanRefusal }] = await Promise.all([
      import('../context.ts'),
      import('../../engine.ts'),
      import('../../view/plan.ts'),
      import('../../view/json.ts'),
      import('../output.ts'),
      import('../../view/apply.ts'),
      import('../confirm.ts'),
      import('../../watch/facts.ts'),
      import('../../view/saved-plan.ts'),
    ]);
    const jsonLog = this.logFormat === 'json';
    const deps = engineDeps(this.context, { progress: !this.json && !jsonLog, signal: signals.abort });
    const confirm = async (run: PlannedRun): Promise<boolean> => {
      // Stopped while the plan was made: nothing has moved yet, so nothing is started.
      if (signals.stop.aborted) return false;
      if (!this.json && !jsonLog) this.context.stdout.write(renderPlan(run.plan, { limit: 20, color: this.color && interactive }));
      if (run.plan.summary.noChanges) return false;
      if (this.autoApprove) return true;
      return answeredYes(this.context, 'Do you want to perform these actions?');
    };
    const onReserveWarning = (warning: ReserveWarning) => deps.warn(reserveWarningText(warning));
    const report = await runApply(config, deps, { planPath: this.file, confirm, showDiff: this.diff, retryFailed: this.retryFailed, onReserveWarning, command: `dualsync apply${this.file ? ` ${this.file}` : ''}` }).catch(wordedSavedPlanRefusal);
    deps.progressView?.finish();
    if (jsonLog) return await this.logEvents(cycleFacts(report));
    if (!report.applied) {
      const waiting = report.run.plan.summary.waiting?.count ?? 0;
      const nothing = waiting > 0 ? `Nothing to apply now; ${waiting} object(s) wait to retry after failures.` : 'Nothing to apply.';
      const reason = report.run.plan.summary.noChanges ? nothing : 'Apply cancelled; nothing was changed.';
      if (this.json) await writePieces(this.context.stdout, jsonDocument({ applied: false, plan: planToJson(report.run.plan) }));
      else this.context.stdout.write(`${reason}\n`);
      return 0;
    }
    const outcome = report.outcome!;
    const { source, destination } = report.run.gathered.inventory;
    // A hop that was down is said so on its own, not as an incomplete listing.
    const unreachable = source.unreachable === undefined && destination.unreachable === undefined ? undefined : { source: source.unreachable, destination: destination.unreachable };
    if (this.json) this.context.stdout.write(`${JSON.stringify({ applied: true, ...applyToJson(outcome), ...(unreachable && { unreachable }) }, null, 2)}\n`);
    else {
      const listingsComplete = (source.complete || source.unreachable !== undefined) && (destination.complete || destination.unreachable !== undefined);
      this.context.stdout.write(renderApplyOutcome(outcome, { listingsComplete, unreachable }));
    }
    return outcome.failures.length === 0 ? 0 : 1;
  }

  /** `--log-format json`: the run's warnings, each failure, and its end with the counts, one JSON line each. */
  async logEvents(facts: ReturnType<typeof cycleFacts>): Promise<number> {
    const [{ warningText }, { failureEvent }] = await Promise.all([import('../../view/reasons.ts'), import('../../view/watch.ts')]);
    const log = runLog(this.context.stdout, 'json', () => new Date());
    for (const warning of facts.warnings) log.event({ event: 'listing_warning', code: warning.code, message: warningText(warning) });
    for (const failure of facts.failures) log.event(failureEvent(failure));
    log.event({ event: 'apply_end', downloaded: facts.moved.download, uploaded: facts.moved.upload, purged: facts.purged, adopted: facts.adopted, failures: facts.failures.length, waiting: facts.waiting });
    return facts.failures.length === 0 ? 0 : 1;
  }
}
