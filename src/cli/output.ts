import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Bytes gathered before one write. */
const CHUNK = 1 << 16;

/**
 * Writes text given in pieces to `stream` in chunks of about 64 KiB, waiting whenever the stream
 * asks to: a large plan's `--json` runs to gigabytes, which must pass through, not pile up in
 * the stream's buffer.
 */
export async function writePieces(stream: Writable, pieces: Iterable<string>): Promise<void> {
  let pending: string[] = [];
  let length = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const ready = stream.write(pending.join(''));
    pending = [];
    length = 0;
    if (!ready) await once(stream, 'drain');
  };
  for (const piece of pieces) {
    pending.push(piece);
    length += piece.length;
    if (length >= CHUNK) await flush();
  }
  await flush();
}
