import { Command, Option } from 'clipanion';
import { DualsyncError, isDualsyncError, type ErrorCode } from '../errors.ts';

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

  /**
   * User and operational errors: message with its code, details, hint; no stack. Anything else
   * is a bug. With --json, stdout also gets one JSON error object, so a script always has a
   * document to parse.
   */
  protected report(error: unknown): number {
    const err = this.context.stderr;
    if ((this as { json?: unknown }).json === true) this.context.stdout.write(`${JSON.stringify({ error: errorToJson(error) }, null, 2)}\n`);
    if (isDualsyncError(error) && error.kind !== 'internal') {
      err.write(`Error [${error.code}]: ${error.message}\n`);
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

/** The JSON form of a failure: the same code, message, details and hint the terminal shows. */
export function errorToJson(error: unknown): { code: ErrorCode; kind: string; message: string; details: string[]; hint?: string; retryable: boolean } {
  if (isDualsyncError(error)) {
    return { code: error.code, kind: error.kind, message: error.message, details: error.details, ...(error.hint ? { hint: error.hint } : {}), retryable: error.retryable };
  }
  return { code: 'E_INTERNAL', kind: 'internal', message: error instanceof Error ? error.message : String(error), details: [], retryable: false };
}
