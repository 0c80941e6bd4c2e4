/**
 * The one reader of line files dualsync writes itself (spools, saved plans): lines end at a
 * newline byte and nowhere else. Not `readline`, which also ends a line at U+2028 and U+2029
 * (and at a lone `\r`): a key may hold those, and a plan file holding one would read back as two
 * broken lines. Read a megabyte at a time, synchronously: memory stays bounded whatever the
 * file's size, and the callers iterate with plain `for..of`.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const READ_CHUNK = 1 << 20;

/** The longest line read by default: far past any line dualsync writes (a key is at most 1 KiB). */
export const DEFAULT_MAX_LINE_BYTES = 16 << 20;

/** Why a file's lines could not be read as written: its last line has no newline, or a line is too long. */
export class LineFileError extends Error {
  readonly path: string;
  readonly reason: 'unterminated' | 'too-long';
  /** The line's number, from 1. */
  readonly line: number;

  constructor(path: string, reason: LineFileError['reason'], line: number, maxBytes: number) {
    super(reason === 'unterminated' ? `${path}: line ${line}, the last, has no newline: the file was cut short` : `${path}: line ${line} is longer than ${maxBytes} bytes`);
    this.name = 'LineFileError';
    this.path = path;
    this.reason = reason;
    this.line = line;
  }
}

export interface LineOptions {
  /** A last line without its newline: an error (a spool, always written whole) or a line (a file a person may have saved without one). */
  unterminated: 'error' | 'line';
  /** Drop a `\r` before each newline (a file that went through an editor or a Windows copy). */
  crlf?: boolean;
  maxLineBytes?: number;
}

/**
 * The lines of the file at `path`, without their newline. Each line is decoded from its own
 * bytes (a newline byte never occurs inside a UTF-8 sequence), so it is a string of its own: a
 * slice of a megabyte chunk would keep the whole chunk alive as long as any action read from it
 * (measured: 842 MiB and 5 s of garbage collection at a million actions). Errors of the file
 * system are thrown as they are, with the path; a cut or overlong line as {@link LineFileError}.
 */
export function* fileLines(path: string, options: LineOptions): Generator<string> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const crlf = options.crlf === true;
  let count = 0;
  const decode = (bytes: Buffer, start: number, end: number): string => {
    count += 1;
    if (end - start > maxLineBytes) throw new LineFileError(path, 'too-long', count, maxLineBytes);
    if (crlf && end > start && bytes[end - 1] === 13) end -= 1;
    return bytes.toString('utf8', start, end);
  };
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let rest: Buffer | undefined;
    for (;;) {
      const read = readSync(fd, buffer, 0, READ_CHUNK, null);
      if (read === 0) break;
      let start = 0;
      for (let end = buffer.indexOf(10, 0); end !== -1 && end < read; end = buffer.indexOf(10, start)) {
        if (rest !== undefined) {
          const whole = Buffer.concat([rest, buffer.subarray(0, end)]);
          rest = undefined;
          yield decode(whole, 0, whole.length);
        } else {
          yield decode(buffer, start, end);
        }
        start = end + 1;
      }
      if (start < read) {
        // A line cut by the chunk: its bytes are copied, since the buffer is read into again.
        const tail = Buffer.from(buffer.subarray(start, read));
        rest = rest === undefined ? tail : Buffer.concat([rest, tail]);
        if (rest.length > maxLineBytes) throw new LineFileError(path, 'too-long', count + 1, maxLineBytes);
      }
    }
    if (rest !== undefined && rest.length > 0) {
      if (options.unterminated === 'error') throw new LineFileError(path, 'unterminated', count + 1, maxLineBytes);
      yield decode(rest, 0, rest.length);
    }
  } finally {
    closeSync(fd);
  }
}
