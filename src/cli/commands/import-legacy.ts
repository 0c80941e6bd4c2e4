import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { userError } from '../../errors.ts';
import { BaseCommand } from '../base.ts';
import { LEGACY_KEYS } from '../../config/legacy-keys.ts';

const ACCEPTED_KEYS = Object.values(LEGACY_KEYS)
  .map((spellings) => `      - ${spellings.join(', ')}`)
  .join('\n');

export class ImportLegacyCommand extends BaseCommand {
  static override paths = [['import-legacy']];
  static override usage = Command.Usage({
    description: "convert transfer_v5's config.yaml into a sync.yaml",
    details: `
      Reads the config.yaml of the transfer_v5 scripts and writes an equivalent sync.yaml.
      Secrets are never copied: each access key and secret key becomes a \${DUALSYNC_...}
      reference, and the command lists the variables to set. 'no_endpoint' means AWS; the
      intermediary directory becomes the one staging volume; the source-to-local limit (bytes)
      becomes transfer.maxBatchBytes and the local-to-destination limit (GB), which transfer_v5
      never enforced, becomes transfer.maxUploadBatchBytes. Relative paths are made absolute.

      Keys are matched in any case, with spaces, '-' or '_' between words, and 'src'/'dest' for
      source/destination, also inside sections such as 'Source Configuration:'. Accepted keys:

${ACCEPTED_KEYS}
    `,
    examples: [
      ['Convert the old config next to the scripts', 'dualsync import-legacy transfer_v5/config.yaml'],
      ['Choose the output file', 'dualsync import-legacy transfer_v5/config.yaml --out site7.yaml'],
    ],
  });

  legacy = Option.String({ name: 'OLD.yaml' });
  out = Option.String('--out', 'sync.yaml', { description: 'The sync.yaml to write (default: ./sync.yaml)' });
  force = Option.Boolean('--force', false, { description: 'Overwrite an existing output file' });

  async run(): Promise<number> {
    const [{ convertLegacyConfig }, { schemaReferenceFrom }] = await Promise.all([import('../../config/legacy.ts'), import('../../config/load.ts')]);
    const text = await readFile(this.legacy, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw userError('E_LEGACY', `cannot read ${this.legacy}: ${error.code === 'ENOENT' ? 'no such file' : (error.code ?? String(error))}`, {
        hint: "pass the path of transfer_v5's config.yaml",
      });
    });
    const conversion = convertLegacyConfig(text, this.legacy, dirname(resolve(this.legacy)), schemaReferenceFrom(dirname(resolve(this.out))));
    try {
      await writeFile(this.out, conversion.yaml, { flag: this.force ? 'w' : 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw userError('E_LEGACY_EXISTS', `${this.out} already exists`, { hint: 'pass --force to replace it, or --out to write another file' });
      throw userError('E_LEGACY', `cannot write ${this.out}: ${code ?? String(error)}`, { hint: 'choose another --out' });
    }

    const lines = [`Wrote ${this.out} from ${this.legacy}.`];
    if (conversion.notes.length > 0) lines.push('Notes:', ...conversion.notes.map((note) => `  - ${note}`));
    if (conversion.secrets.length > 0) {
      const width = Math.max(...conversion.secrets.map((s) => s.variable.length));
      lines.push(
        `Credentials were not copied. Set these variables where dualsync runs, with the values from ${this.legacy}:`,
        ...conversion.secrets.map((s) => `  ${s.variable.padEnd(width)}  (was ${s.legacyKey})`),
        `For example: read -rs ${conversion.secrets[0]?.variable} && export ${conversion.secrets[0]?.variable}   (keeps the value out of shell history)`,
        `${this.legacy} still holds those secrets in clear text: delete it once the new config works.`,
      );
    }
    lines.push(`Next: dualsync validate -c ${this.out}`, '');
    this.context.stdout.write(lines.join('\n'));
    return 0;
  }
}
