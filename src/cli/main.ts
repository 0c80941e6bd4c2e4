import { Builtins, Cli, type BaseContext, type Command } from 'clipanion';
import { commands } from './commands/index.ts';
import { VERSION } from '../version.ts';
import { killHopsOnExit } from './signals.ts';
import { commandOf } from './launch-flags.ts';
import { writeSync } from 'node:fs';

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

/** The status a shell shows for a writer that SIGPIPE stopped (128 + 13), as `cat` or `git log` end. */
export const CLOSED_PIPE_STATUS = 141;

/**
 * A reader that closes the pipe (`dualsync report | head -1`) ends the command at the write that
 * finds it gone, quietly, as SIGPIPE ends `cat`. Node ignores SIGPIPE, so that write fails with
 * EPIPE instead, which would surface as an "Internal error" or an unhandled 'error' event with a
 * stack, and only after the command had gone on working (and printing to stderr) for a while.
 * The status is 141, what a shell shows for a writer SIGPIPE stopped, not 0: the output was cut
 * short, and for `check` a 0 would say "safe to return the device" without the verdict ever being
 * reached. The exit hooks still run (s5cmd children stopped, temporary files removed); a file a
 * command writes is written whole or not at all, as after any exit.
 */
function endQuietlyWhenReaderLeaves(stream: NodeJS.WriteStream, beforeExit: () => void = () => {}): void {
  const readerLeft = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code === 'EPIPE';
  let ending = false;
  const end = (): never => {
    if (!ending) {
      ending = true;
      beforeExit();
    }
    return process.exit(CLOSED_PIPE_STATUS);
  };
  // A write to a pipe is synchronous on Linux: its failure is known as soon as write returns,
  // while the 'error' event comes a tick later. The event covers a write that completes later.
  const write = stream.write;
  stream.write = function writeOrEnd(this: NodeJS.WriteStream, ...args: Parameters<typeof write>): boolean {
    const accepted = write.apply(this, args);
    if (readerLeft(this.errored)) end();
    return accepted;
  } as typeof write;
  stream.on('error', (error) => {
    if (readerLeft(error)) end();
    throw error;
  });
}

/**
 * `watch`'s last word when its stdout (its log: journald's stream under systemd) is gone: unlike
 * `report | head`, nobody chose to stop reading, and `Restart=on-failure` restarts a watch that
 * otherwise left no trace of why. One line on stderr if that still works (journald takes both
 * streams through one socket, so often it does not), as a JSON event with --log-format json.
 */
function sayWatchLostStdout(argv: readonly string[], lostStdoutLine: (json: boolean, status: number, at: Date) => string): void {
  const formatAt = argv.indexOf('--log-format');
  const json = argv.includes('--log-format=json') || (formatAt >= 0 && argv[formatAt + 1] === 'json');
  const line = lostStdoutLine(json, CLOSED_PIPE_STATUS, new Date());
  try {
    // Synchronous, and past the stream: its own EPIPE handling would end the process again.
    writeSync(2, line);
  } catch {
    // stderr is gone as well: the exit status is all that is left to say it.
  }
}

/** Entry point of bin/dualsync: runs the command and sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  killHopsOnExit();
  // Loaded for watch alone: its last word is said synchronously, on the way out, when there is no
  // time left to load a module; every other command ends without it.
  const watchView = commandOf(argv) === 'watch' ? await import('../view/watch.ts') : undefined;
  endQuietlyWhenReaderLeaves(process.stdout, watchView ? () => sayWatchLostStdout(argv, watchView.lostStdoutLine) : undefined);
  endQuietlyWhenReaderLeaves(process.stderr);
  // Colours only on a terminal, and never with NO_COLOR (no-color.org).
  const stdout = process.stdout as NodeJS.WriteStream;
  const colorDepth = stdout.isTTY && process.env.NO_COLOR === undefined ? (stdout.getColorDepth?.() ?? 1) : 1;
  const cli = buildCli({ colors: colorDepth > 1 });
  process.exitCode = await cli.run(argv, { ...Cli.defaultContext, colorDepth });
}
