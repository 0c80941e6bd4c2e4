import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { schemaReferenceFrom } from '../../config/load.ts';
import { STARTER_VARIABLES, starterConfig } from '../../config/template.ts';
import { userError } from '../../errors.ts';
import { BaseCommand } from '../base.ts';

export class InitCommand extends BaseCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    description: 'write a commented starter sync.yaml',
    details: `
      Writes a starter config for the common case (a Snowball Edge source, an AWS destination)
      with every field commented. It never overwrites an existing file unless \`--force\` is given.
      The file refers to its schema, so editors with yaml-language-server complete and check it.

      The target is \`--out\`, else \`-c/--config\`, else \`$DUALSYNC_CONFIG\`, else ./sync.yaml.
    `,
    examples: [
      ['Start a config in the current folder', 'dualsync init'],
      ['Write it somewhere else', 'dualsync init --out /etc/dualsync/site7.yaml'],
      ['Start over, replacing an existing file', 'dualsync init --force'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'Overwrite an existing file' });
  out = Option.String('--out', { description: 'Where to write the file (default: -c, else ./sync.yaml)' });
  /** The earlier name of --out, kept so that scripts written for it still work. */
  legacyPath = Option.String('--path', { hidden: true });

  async run(): Promise<number> {
    const target = this.out ?? this.legacyPath ?? this.configPath();
    const text = starterConfig(schemaReferenceFrom(dirname(resolve(target))));
    try {
      // 'wx' refuses an existing file in the same call that creates it, so nothing is lost to a race.
      await writeFile(target, text, { flag: this.force ? 'w' : 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw userError('E_INIT_EXISTS', `${target} already exists`, { hint: 'pass --force to replace it, or --out to write another file' });
      if (code === 'ENOENT') throw userError('E_INIT_PATH', `cannot write ${target}: its folder does not exist`, { hint: 'create the folder first, or choose another --out' });
      if (code === 'EISDIR') throw userError('E_INIT_PATH', `cannot write ${target}: it is a directory`, { hint: 'give a file name, e.g. --out site7/sync.yaml' });
      throw error;
    }
    const validate = target === 'sync.yaml' ? 'dualsync validate' : `dualsync validate -c ${target}`;
    this.context.stdout.write(
      [
        `Wrote ${target}. Next:`,
        '  1. Edit it: buckets, prefixes, the Snowball endpoint and certificate, the staging volumes.',
        `  2. Set ${STARTER_VARIABLES.join(' and ')} where dualsync runs (or use a profile).`,
        `  3. Check it: ${validate}`,
        '',
      ].join('\n'),
    );
    return 0;
  }
}
