import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { CONTENT_CONCURRENCY } from '../../model/check.ts';
import { userError } from '../../errors.ts';

export class CheckCommand extends BaseCommand {
  static override paths = [['check']];
  static override usage = Command.Usage({
    description: 'prove the destination holds every source object, without trusting the ledger',
    details: `
      Lists the source and the destination in full and gives every source object one state:
      delivered (size and the destination ETag recorded at delivery, or equal plain ETags),
      different, unverified, missing, staged-only, failing, skipped, or destination-only. The
      listings decide; the ledger only explains. Changes nothing.

      Prints rclone-style combined lines (\`= key\` same, \`-\` only on the source, \`+\` only on
      the destination, \`*\` differs, \`!\` failing or unproven) to \`--combined FILE\` or stdout,
      then a summary. \`--json\` prints one JSON object per object instead, and the summary as
      the last line.

      \`--content\` reads both sides' bytes through MD5 (streamed, nothing staged) for every object
      at the destination: use it where ETags are not MD5s (a Snowball's are not).

      Exit 0 only when every source object is delivered and verified and nothing else is at the
      destination: the summary then says "safe to return the device". Exit 1 otherwise.
    `,
    examples: [
      ['Before the device goes back', 'dualsync check --combined check.txt'],
      ['Compare the bytes too', 'dualsync check --content'],
    ],
  });

  combined = Option.String('--combined', { description: 'Write the combined lines to FILE instead of stdout' });
  json = Option.Boolean('--json', false, { description: 'One JSON object per line (code and facts), the summary last' });
  content = Option.Boolean('--content', false, { description: 'Compare the bytes of both sides (MD5, streamed)' });
  concurrency = Option.String('--concurrency', String(CONTENT_CONCURRENCY), { description: `Objects read at once with --content (default ${CONTENT_CONCURRENCY})` });

  async run(): Promise<number> {
    const concurrency = Number(this.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw userError('E_USAGE', `--concurrency ${JSON.stringify(this.concurrency)} is not a whole number of objects, 1 or more`, { hint: `leave it out for ${CONTENT_CONCURRENCY} objects read at once` });
    }
    const [{ engineDeps, loadConfigFor }, { runCheck }, { checkJsonLine, combinedLine, renderCheckSummary }, { onInterrupt }] = await Promise.all([
      import('../context.ts'),
      import('../../ops/check.ts'),
      import('../../view/check.ts'),
      import('../signals.ts'),
    ]);
    const config = await loadConfigFor(this.context, this.configPath());
    const stdout = this.context.stdout;
    const file = this.combined === undefined ? undefined : createWriteStream(this.combined);
    const out: Writable = file ?? stdout;
    const interrupt = onInterrupt(this.context.stderr, 'the check');
    let summary;
    try {
      summary = await runCheck(config, engineDeps(this.context, { signal: interrupt.signal }), { content: this.content, concurrency }, (entry) => {
        out.write(this.json ? checkJsonLine(entry) : combinedLine(entry));
      });
    } finally {
      interrupt.dispose();
      if (file !== undefined) {
        file.end();
        await once(file, 'close');
      }
    }
    if (this.json) stdout.write(`${JSON.stringify({ summary })}\n`);
    else stdout.write(renderCheckSummary(summary));
    return summary.safe ? 0 : 1;
  }
}
