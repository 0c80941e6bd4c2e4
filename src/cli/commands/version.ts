import { Command, Option } from 'clipanion';
import { inSingleExecutable } from '../../sea.ts';
import { VERSION } from '../../version.ts';
import { BaseCommand } from '../base.ts';

export class VersionCommand extends BaseCommand {
  static override paths = [['version']];
  static override usage = Command.Usage({
    description: "print dualsync's version and the s5cmd it runs",
    details: `
      Prints dualsync's version, how it runs (the release's single executable or a checkout on
      Node.js) and the s5cmd that plan and apply would run: its version, its path and why that
      one was chosen (DUALSYNC_S5CMD, DUALSYNC_TOOLS, beside the dualsync executable, the
      checkout's .tools/ folder, or PATH). \`dualsync --version\` prints dualsync's version alone.

      Exit codes: 0 both found, 1 no usable s5cmd (the reason and what to do are printed).
    `,
    examples: [
      ['After unpacking a release', 'dualsync version'],
      ['For an inventory script', 'dualsync version --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the versions as JSON' });

  async run(): Promise<number> {
    const runtime = { node: process.version, singleExecutable: inSingleExecutable };
    const how = `${inSingleExecutable ? 'single executable' : 'from source'}, Node.js ${runtime.node}`;
    // dualsync's own line comes first, so that it is printed even when s5cmd is missing.
    if (!this.json) this.context.stdout.write(`dualsync ${VERSION} (${how})\n`);
    const { findS5cmd } = await import('../../apply/s5cmd.ts');
    const s5cmd = await findS5cmd(this.context.env);
    if (this.json) this.context.stdout.write(`${JSON.stringify({ dualsync: VERSION, ...runtime, s5cmd }, null, 2)}\n`);
    else this.context.stdout.write(`s5cmd ${s5cmd.version} at ${s5cmd.path} (${s5cmd.origin})\n`);
    return 0;
  }
}
