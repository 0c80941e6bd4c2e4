import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';

export class StatusCommand extends BaseCommand {
  static override paths = [['status']];
  static override usage = Command.Usage({
    description: 'show the ledger by stage, the volumes and the last run',
    details: `
      Reads the ledger and scans the staging volumes; lists nothing remotely and changes nothing.
      Shows objects and bytes per stage (staged, delivered, purged), failing objects with their
      attempts and last error, skipped keys with their reason, each volume's free space against
      its reserve and the bytes staged on it, the last run, and who holds the lock now.
    `,
    examples: [['Where is everything?', 'dualsync status'], ['For a monitoring script', 'dualsync status --json']],
  });

  json = Option.Boolean('--json', false, { description: 'Print the status as JSON' });

  async run(): Promise<number> {
    const [{ engineDeps, loadConfigFor }, { runStatus }, { renderStatus }] = await Promise.all([import('../context.ts'), import('../../engine.ts'), import('../../view/status.ts')]);
    const config = await loadConfigFor(this.context, this.configPath());
    const report = await runStatus(config, engineDeps(this.context));
    this.context.stdout.write(this.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
    return 0;
  }
}
