/**
 * The I/O around provision.ts: asking lsblk, choosing the owner, and running the planned
 * commands one by one (each shown before it runs, stopping at the first failure).
 */
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { describeError, opError, userError } from '../errors.ts';
import { commandLine, parseLsblk, type Lsblk, type ProvisionCommand } from './provision.ts';

const FULL_COLUMNS = 'NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,MOUNTPOINTS';
/** util-linux before 2.37 has no MOUNTPOINTS, before 2.33 no PATH; provision.ts copes without them. */
const OLD_COLUMNS = 'NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT';

/** lsblk's view of the block devices: from `file` when given (saved output, for tests and reviews), else from lsblk. */
export async function readLsblk(file?: string): Promise<Lsblk> {
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw userError('E_LSBLK', `cannot read ${file}: ${describeError(error)}`, { hint: 'give a file saved from `lsblk --json -b -o NAME,PATH,TYPE,SIZE,FSTYPE,MOUNTPOINT,MOUNTPOINTS`' });
    }
    return parseLsblk(text, file);
  }
  let lastError = '';
  for (const columns of [FULL_COLUMNS, OLD_COLUMNS]) {
    const result = await execa('lsblk', ['--json', '-b', '-o', columns], { reject: false, timeout: 30_000 });
    if (result.exitCode === 0) return parseLsblk(result.stdout, `lsblk -o ${columns}`);
    lastError = `${result.stderr || result.shortMessage}`.trim();
    if ((result as { code?: string }).code === 'ENOENT') break;
  }
  throw opError('E_LSBLK', `lsblk failed: ${lastError}`, { hint: 'lsblk comes with util-linux; on a machine without it, save its output elsewhere and pass --lsblk-json FILE' });
}

/**
 * Who should own the mount points: the operator behind sudo (SUDO_UID:SUDO_GID), else the user
 * running this, so that dualsync can later run without root.
 */
export function defaultOwner(env: NodeJS.ProcessEnv): string {
  if (env.SUDO_UID && env.SUDO_GID) return `${env.SUDO_UID}:${env.SUDO_GID}`;
  return `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
}

export interface RunResult {
  ran: number;
  /** The command that failed, if one did; the ones after it did not run. */
  failed?: { command: ProvisionCommand; error: string };
}

/** Runs the commands in order, printing each one first; stops at the first that fails. */
export async function runProvisionCommands(commands: ProvisionCommand[], write: (line: string) => void): Promise<RunResult> {
  let ran = 0;
  for (const command of commands) {
    write(`$ ${commandLine(command.argv)}\n`);
    const [file, ...args] = command.argv as [string, ...string[]];
    const result = await execa(file, args, { reject: false, all: true, stdin: 'ignore' });
    if (result.all) write(`${result.all.trimEnd()}\n`);
    if (result.exitCode !== 0 || result.failed) {
      return { ran, failed: { command, error: result.exitCode === undefined ? (result.shortMessage ?? 'did not run') : `exit code ${result.exitCode}` } };
    }
    ran++;
  }
  return { ran };
}
