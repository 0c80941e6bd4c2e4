import { Builtins, Cli } from 'clipanion';
import { commands } from './commands/index.ts';
import { VERSION } from '../version.ts';

/** Builds the CLI with every command that works. Tests use it with captured streams. */
export function buildCli(options: { colors?: boolean } = {}): Cli {
  // Colours are off unless asked for: clipanion's `--help` would otherwise colour by what the
  // machine supports, even into a pipe or a file.
  const cli = new Cli({ binaryLabel: 'dualsync', binaryName: 'dualsync', binaryVersion: VERSION, enableColors: options.colors ?? false });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of commands) cli.register(command);
  return cli;
}

/** Entry point of bin/dualsync: runs the command and sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  // Colours only on a terminal, and never with NO_COLOR (no-color.org).
  const stdout = process.stdout as NodeJS.WriteStream;
  const colorDepth = stdout.isTTY && process.env.NO_COLOR === undefined ? (stdout.getColorDepth?.() ?? 1) : 1;
  const cli = buildCli({ colors: colorDepth > 1 });
  process.exitCode = await cli.run(argv, { ...Cli.defaultContext, colorDepth });
}
