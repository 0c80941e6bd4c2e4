import { Builtins, Cli } from 'clipanion';
import { commands } from './commands/index.ts';
import { VERSION } from '../version.ts';
import { killHopsOnExit } from './signals.ts';

/** Builds the CLI with every command that works. Tests use it with captured streams. */
export function buildCli(): Cli {
  const cli = new Cli({ binaryLabel: 'dualsync', binaryName: 'dualsync', binaryVersion: VERSION });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of commands) cli.register(command);
  return cli;
}

/** Entry point of bin/dualsync: runs the command and sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  killHopsOnExit();
  const cli = buildCli();
  process.exitCode = await cli.run(argv, Cli.defaultContext);
}
