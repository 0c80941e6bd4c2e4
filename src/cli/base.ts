import { Command, Option } from 'clipanion';
import { DualsyncError, isDualsyncError } from '../errors.ts';

/** Options every command shares, and the one place that turns errors into output and exit codes. */
export abstract class BaseCommand extends Command {
  config = Option.String('-c,--config', {
    description: 'Config file (default: $DUALSYNC_CONFIG, else ./sync.yaml)',
  });
  color = Option.Boolean('--color', true, { description: 'Colours on a terminal; --no-color for plain output' });

  /** The config path the operator asked for, in the documented order. */
  configPath(): string {
    return this.config ?? this.context.env.DUALSYNC_CONFIG ?? 'sync.yaml';
  }

  abstract run(): Promise<number>;

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (error) {
      return this.report(error);
    }
  }

  /** User and operational errors: message, details, hint; no stack. Anything else is a bug. */
  protected report(error: unknown): number {
    const err = this.context.stderr;
    if (isDualsyncError(error) && error.kind !== 'internal') {
      err.write(`Error: ${error.message}\n`);
      for (const line of error.details) err.write(`  ${line}\n`);
      if (error.hint) err.write(`Hint: ${error.hint}\n`);
      return 1;
    }
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    const code = error instanceof DualsyncError ? ` (${error.code})` : '';
    err.write(`Internal error${code}: ${stack}\nThis is a bug in dualsync; please report it with the lines above.\n`);
    return 1;
  }
}
