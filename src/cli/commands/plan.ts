import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';

export class PlanCommand extends BaseCommand {
  static override paths = [['plan']];
  static override usage = Command.Usage({
    description: 'show what would move, without changing anything',
    details: `
      Lists the source and the destination, scans the staging volumes and reads the ledger, then
      shows every download, upload, purge, adopt and skip that \`apply\` would perform. Nothing is
      written unless \`--out\` asks for a plan file; beside FILE it writes FILE's stem +
      \`.download.s5cmd\` and \`.upload.s5cmd\`, plain s5cmd run files an operator can read.

      An object that failed twice or more in a row backs off (\`transfer.retryBackoff\`): until its
      next try it is shown apart as waiting, not planned. \`--retry-failed\` plans it now.

      With \`--json\`, \`messages\` holds the lines shown under "Warnings:"; \`warnings\` (about the
      run), \`notes\` (groups of objects: \`code\`, \`count\`, \`bytes\`, \`examples\`) and each
      action's \`reason\` are data, a \`code\` and its facts: match the codes, not the sentences
      (docs/operations.md lists them).

      Exit codes: 0 success, 1 error; with \`--detailed-exitcode\`, 0 no changes, 2 changes present.
      Objects waiting to retry are not changes of this plan (exit 0), but the summary line says
      the sites are not in sync while any wait.
    `,
    examples: [
      ['See what would move', 'dualsync plan'],
      ['Save a plan to review and apply later', 'dualsync plan --out plan.json'],
      ['In a script: is there anything to do?', 'dualsync plan --detailed-exitcode >/dev/null; echo $?'],
      ['Include the objects that wait after failures', 'dualsync plan --retry-failed'],
    ],
  });

  out = Option.String('--out', { description: 'Write the plan (JSON) and its two s5cmd manifests' });
  json = Option.Boolean('--json', false, { description: 'Print the plan as JSON' });
  detailedExitcode = Option.Boolean('--detailed-exitcode', false, { description: 'Exit 0 for no changes, 2 for changes' });
  limit = Option.String('--limit', '20', { description: 'Object lines shown per action kind' });
  retryFailed = Option.Boolean('--retry-failed', false, { description: 'Plan objects that back off after failures now' });

  async run(): Promise<number> {
    const [{ loadConfigFor, engineDeps }, { runPlan }, { writePlanFiles }, { planToJson, renderPlan }, { jsonDocument }, { writePieces }, { onInterrupt }] = await Promise.all([
      import('../context.ts'),
      import('../../engine.ts'),
      import('../../planfile/save.ts'),
      import('../../view/plan.ts'),
      import('../../view/json.ts'),
      import('../output.ts'),
      import('../signals.ts'),
    ]);
    const config = await loadConfigFor(this.context, this.configPath());
    const interrupt = onInterrupt(this.context.stderr, 'the plan');
    let run;
    try {
      run = await runPlan(config, engineDeps(this.context, { signal: interrupt.signal }), { retryFailed: this.retryFailed, fingerprint: this.json || this.out !== undefined });
    } finally {
      interrupt.dispose();
    }
    if (this.json) {
      await writePieces(this.context.stdout, jsonDocument({ ...planToJson(run.plan), inputDigest: run.gathered.inputDigest }));
    } else {
      this.context.stdout.write(renderPlan(run.plan, { limit: Number(this.limit), color: this.color && Boolean((this.context.stdout as { isTTY?: boolean }).isTTY) }));
    }
    if (this.out) {
      const origin = { plan: run.plan, createdAt: run.createdAt, inputDigest: run.gathered.inputDigest, ledgerSerial: run.gathered.inventory.ledger.serial };
      const paths = await writePlanFiles(this.out, origin, config);
      const note = `Saved the plan to ${this.out} (manifests: ${paths.download}, ${paths.upload}).\nApply exactly this plan with: dualsync apply ${this.out}\n`;
      (this.json ? this.context.stderr : this.context.stdout).write(note);
    }
    if (this.detailedExitcode) return run.plan.summary.noChanges ? 0 : 2;
    return 0;
  }
}
