import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { engineDeps, isTty, loadConfigFor } from '../context.ts';
import { runApply, type PlannedRun } from '../../engine.ts';
import { renderPlan, planToJson } from '../../view/plan.ts';
import { applyToJson, renderApplyOutcome } from '../../view/apply.ts';
import { userError } from '../../errors.ts';

export class ApplyCommand extends BaseCommand {
  static override paths = [['apply']];
  static override usage = Command.Usage({
    description: 'move, verify and record what the plan says',
    details: `
      Without FILE, makes a plan, shows it and asks for confirmation (\`--auto-approve\` skips the
      question; without a terminal it is required). With FILE (from \`dualsync plan --out FILE\`),
      applies exactly that plan, or refuses with a diff when the source, destination, volumes or
      ledger changed since it was made.

      Both hops run at once: each object's upload starts as soon as its download is verified.
      Every object is verified (size; and MD5/ETag with \`verify: etag\`) and recorded in the
      ledger; a staged copy is purged only after the destination copy is verified.

      Exit codes: 0 all done, 1 an error or at least one object failed (the next run retries it).
    `,
    examples: [
      ['Plan, review, confirm, apply', 'dualsync apply'],
      ['Apply a reviewed plan', 'dualsync apply plan.json'],
      ['Unattended (cron, systemd)', 'dualsync apply --auto-approve'],
    ],
  });

  file = Option.String({ required: false, name: 'FILE' });
  autoApprove = Option.Boolean('--auto-approve', false, { description: 'Do not ask for confirmation' });
  json = Option.Boolean('--json', false, { description: 'Print the result as JSON' });

  async run(): Promise<number> {
    const config = await loadConfigFor(this.context, this.configPath());
    const interactive = isTty(this.context.stdin) && isTty(this.context.stdout);
    if (!this.file && !this.autoApprove && !interactive) {
      throw userError('E_CONFIRM', 'apply needs a confirmation, and there is no terminal to ask on', {
        hint: 'review with `dualsync plan --out plan.json` and run `dualsync apply plan.json`, or pass --auto-approve',
      });
    }
    const deps = engineDeps(this.context, { progress: !this.json });
    const confirm = async (run: PlannedRun): Promise<boolean> => {
      if (!this.json) this.context.stdout.write(renderPlan(run.plan, { limit: 20, color: this.color && interactive }));
      if (run.plan.summary.noChanges) return false;
      if (this.autoApprove) return true;
      const rl = createInterface({ input: this.context.stdin, output: this.context.stdout });
      try {
        const answer = await rl.question('\nDo you want to perform these actions? Only "yes" will be accepted: ');
        return answer.trim() === 'yes';
      } finally {
        rl.close();
      }
    };
    const report = await runApply(config, deps, { planPath: this.file, confirm, command: `dualsync apply${this.file ? ` ${this.file}` : ''}` });
    deps.progressView?.finish();
    if (!report.applied) {
      const reason = report.run.plan.summary.noChanges ? 'Nothing to apply.' : 'Apply cancelled; nothing was changed.';
      if (this.json) this.context.stdout.write(`${JSON.stringify({ applied: false, plan: planToJson(report.run.plan) }, null, 2)}\n`);
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
}
