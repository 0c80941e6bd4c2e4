import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';

export class DoctorCommand extends BaseCommand {
  static override paths = [['doctor']];
  static override usage = Command.Usage({
    description: 'check endpoints, credentials, clocks, s5cmd, volumes and the state directory',
    details: `
      For each hop: DNS and TCP reachability of the endpoint, the TLS handshake with the
      configured CA bundle, the credentials and the permission to list the bucket, the clock of
      the server (signed requests fail beyond 15 minutes of skew), the connection budget
      (workers x concurrency against maxConnections) and, for a Snowball, the listing API.
      Then s5cmd (found, 2.2.2 or newer; a warning for a stock build, which makes a HEAD request
      before every download), every staging volume (present, writable, free space against the
      reserve) and the state directory (writable, ledger readable).

      It writes nothing at the source or the destination; \`--write-probe\` puts one small object
      under the destination prefix and deletes it again, to prove apply will be able to upload.

      Every check runs even when another fails. Exit codes: 0 no failure (warnings allowed), 1 at
      least one check failed; each failure says how to fix it.
    `,
    examples: [
      ['Check a new site before the first apply', 'dualsync doctor'],
      ['Also prove the destination accepts uploads', 'dualsync doctor --write-probe'],
      ['For monitoring', 'dualsync doctor --json'],
    ],
  });

  writeProbe = Option.Boolean('--write-probe', false, { description: 'Put and delete one small object under the destination prefix' });
  json = Option.Boolean('--json', false, { description: 'Print the checks as JSON' });

  async run(): Promise<number> {
    const [{ isTty }, { formatDiagnostic }, { loadConfigForChecks }, { runDoctor }, { renderDoctor }] = await Promise.all([import('../context.ts'), import('../../config/load.ts'), import('../../ops/config.ts'), import('../../ops/doctor.ts'), import('../../view/doctor.ts')]);
    const checked = await loadConfigForChecks(this.configPath(), this.context.env);
    for (const warning of checked.warnings) this.context.stderr.write(`${formatDiagnostic(warning)}\n`);
    const report = await runDoctor(checked, { writeProbe: this.writeProbe, env: this.context.env, now: () => new Date() });
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const stdout = this.context.stdout as { columns?: number };
      this.context.stdout.write(renderDoctor(report, { color: this.color && isTty(this.context.stdout), width: stdout.columns }));
    }
    return report.ok ? 0 : 1;
  }
}
