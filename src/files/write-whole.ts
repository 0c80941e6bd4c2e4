/**
 * The one way dualsync writes through a file descriptor: every byte, or an error. `write(2)` may
 * write less than it was given (near a full disk it writes what fits and returns the count; a
 * signal can cut it short too), and `fs.writeSync` hands that count back without a word. A
 * caller that ignores it leaves a torn file that reads back as something else: a spool cut in
 * its last line read back as a smaller plan.
 */
import { writeSync } from 'node:fs';

/** `fs.writeSync` on a buffer range, as this module calls it (a test may pass another). */
export type WriteBytes = (fd: number, buffer: Buffer, offset: number, length: number) => number;

const systemWrite: WriteBytes = (fd, buffer, offset, length) => writeSync(fd, buffer, offset, length);

/** An error as the system gives it, naming `path` (a write through a descriptor names none). */
function named(error: unknown, path: string): unknown {
  const errno = error as NodeJS.ErrnoException;
  if (error instanceof Error && errno.code !== undefined && errno.path === undefined) errno.path = path;
  return error;
}

/**
 * Writes all of `data` to `fd` (the file `path`, named in any error) at its current position:
 * after a short write, the rest is written again until all of it is written or the system
 * refuses with an error (a full disk: ENOSPC). A write that makes no progress at all is that
 * full disk too: ENOSPC, rather than a loop that never ends.
 */
export function writeWhole(fd: number, data: string | Buffer, path: string, write: WriteBytes = systemWrite): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let offset = 0;
  while (offset < bytes.length) {
    let written: number;
    try {
      written = write(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      throw named(error, path);
    }
    if (!(written > 0)) {
      const error: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, write (${bytes.length - offset} of ${bytes.length} bytes not written), '${path}'`);
      error.code = 'ENOSPC';
      error.errno = -28;
      error.syscall = 'write';
      error.path = path;
      throw error;
    }
    offset += written;
  }
}
