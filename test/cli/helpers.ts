import { Readable, Writable } from 'node:stream';
import { buildCli } from '../../src/cli/main.ts';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  /** Added to (or, with undefined, removed from) a copy of process.env for the command. */
  env?: Record<string, string | undefined>;
  /** Text the command reads on stdin. */
  stdin?: string;
}

/** Runs `dualsync ...args` in this process through buildCli(), with captured streams. */
export async function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  const stdout = capture();
  const stderr = capture();
  const exitCode = await buildCli().run(args, {
    env: { ...process.env, ...options.env },
    stdin: Readable.from([options.stdin ?? '']),
    stdout: stdout.stream,
    stderr: stderr.stream,
    colorDepth: 1,
  });
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}
