import { Command } from 'clipanion';
import type { HopConfig } from '../../model/config.ts';
import { BaseCommand } from '../base.ts';

export class ValidateCommand extends BaseCommand {
  static override paths = [['validate']];
  static override usage = Command.Usage({
    description: 'check the config: schema, meaning, volumes and files',
    details: `
      Reads the config and reports every problem at once, each as \`file:line:col  field: message\`,
      with what was expected. Besides the schema it checks prefixes, \${VAR} references, sizes and
      durations, that source and destination are not one bucket on one server with nested
      prefixes, that every staging volume entry matches a directory, that no volume is claimed by
      another state directory (see \`dualsync volumes release\`), that the state directory lies
      outside every volume (by real path, and outside what a volume glob could match later) and
      that a CA bundle is readable. Nothing is contacted over the network (\`dualsync doctor\` does
      that), except a DNS lookup of both endpoints' host names when both hops name one bucket on
      one port.

      Exit codes: 0 valid (warnings are printed but do not fail), 1 problems found.
    `,
    examples: [
      ['Check ./sync.yaml', 'dualsync validate'],
      ['Check another file', 'dualsync validate -c /etc/dualsync/site7.yaml'],
    ],
  });

  async run(): Promise<number> {
    const [{ expandVolumes, formatDiagnostic, loadConfig }, { checkVolumeClaims }] = await Promise.all([import('../../config/load.ts'), import('../../engine.ts')]);
    const path = this.configPath();
    // validate answers "will plan and apply run here?", so it asks for every credential variable too.
    const { config, warnings } = await loadConfig(path, this.context.env, { deferCredentials: false });
    for (const warning of warnings) this.context.stderr.write(`${formatDiagnostic(warning)}\n`);
    await checkVolumeClaims(config);
    const volumes = await expandVolumes(config.staging.volumes);
    this.context.stdout.write(
      `${path} is valid: source ${describeHop(config.source)} -> ${volumes.length} volume${volumes.length === 1 ? '' : 's'} -> destination ${describeHop(config.destination)}\n`,
    );
    return 0;
  }
}

function describeHop(hop: HopConfig): string {
  return `s3://${hop.bucket}/${hop.prefix} (${hop.endpoint ?? `AWS ${hop.region}`})`;
}
