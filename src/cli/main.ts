import { Builtins, Cli, type BaseContext, type Command } from 'clipanion';
import { commands } from './commands/index.ts';
import { VERSION } from '../version.ts';
import { killHopsOnExit } from './signals.ts';

/**
 * clipanion's Cli, except that a command line it cannot parse (an unknown option, a missing
 * argument) is answered with a JSON error object when --json was asked for, as every other
 * failure is (BaseCommand.report): a script always gets one document to parse.
 */
class DualsyncCli extends Cli {
  #json = false;

  override process(input: string[], context?: Partial<BaseContext> | void): Command {
    this.#json = input.includes('--json');
    return super.process(input, context ?? {});
  }

  override error(error: Error, options?: { colored?: boolean; command?: Command | null }): string {
    if (!this.#json) return super.error(error, options);
    const message = error.message.split('\n')[0] ?? error.message;
    const object = { code: 'E_USAGE', kind: 'user', message, details: [], hint: 'see `dualsync --help` and `dualsync COMMAND --help`', retryable: false };
    return `${JSON.stringify({ error: object }, null, 2)}\n`;
  }
}

/** Builds the CLI with every command that works. Tests use it with captured streams. */
export function buildCli(options: { colors?: boolean } = {}): Cli {
  // Colours are off unless asked for: clipanion's `--help` would otherwise colour by what the
  // machine supports, even into a pipe or a file.
  const cli = new DualsyncCli({ binaryLabel: 'dualsync', binaryName: 'dualsync', binaryVersion: VERSION, enableColors: options.colors ?? false });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of commands) cli.register(command);
  return cli;
}

/** Entry point of bin/dualsync: runs the command and sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  killHopsOnExit();
  // Colours only on a terminal, and never with NO_COLOR (no-color.org).
  const stdout = process.stdout as NodeJS.WriteStream;
  const colorDepth = stdout.isTTY && process.env.NO_COLOR === undefined ? (stdout.getColorDepth?.() ?? 1) : 1;
  const cli = buildCli({ colors: colorDepth > 1 });
  process.exitCode = await cli.run(argv, { ...Cli.defaultContext, colorDepth });
}
