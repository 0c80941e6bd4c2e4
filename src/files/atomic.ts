/**
 * Files written whole or not at all: written to a temporary name beside the target, a
 * megabyte at a time as their pieces are emitted (a plan file of millions of lines is never one
 * string), fsynced, then renamed into place. On failure (a full disk) the temporary file is
 * removed and the error names it.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { writeWhole } from './write-whole.ts';

const CHUNK = 1 << 20;

/** A file being written: `emit` pieces, then `commit()` (or `abort()`). */
export class AtomicFile {
  readonly path: string;
  readonly #temporary: string;
  #fd: number | undefined;
  #pending: string[] = [];
  #length = 0;

  constructor(path: string) {
    this.path = path;
    this.#temporary = `${path}.tmp-${process.pid}`;
    this.#fd = this.#named(() => openSync(this.#temporary, 'w', 0o600));
  }

  /** Runs a write, naming the temporary file in its error (a write through a descriptor names no path). */
  #named<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      const errno = error as NodeJS.ErrnoException;
      if (errno.code !== undefined && errno.path === undefined) errno.path = this.#temporary;
      throw error;
    }
  }

  readonly emit = (piece: string): void => {
    this.#pending.push(piece);
    this.#length += piece.length;
    if (this.#length >= CHUNK) this.#flush();
  };

  #flush(): void {
    if (this.#pending.length === 0 || this.#fd === undefined) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#length = 0;
    // Every byte or an error: a short write near a full disk would otherwise commit a cut file.
    writeWhole(this.#fd, text, this.#temporary);
  }

  /** Flushes, fsyncs and renames into place. */
  commit(): void {
    try {
      this.#flush();
      const fd = this.#fd as number;
      this.#named(() => fsyncSync(fd));
      closeSync(fd);
      this.#fd = undefined;
      renameSync(this.#temporary, this.path);
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  /** Drops the temporary file: a full disk would only lose more of the little room left. */
  abort(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#pending = [];
    rmSync(this.#temporary, { force: true });
  }
}

/** Writes `path` whole from what `write` emits, or not at all. */
export function writeFileAtomically(path: string, write: (emit: (piece: string) => void) => void): void {
  const file = new AtomicFile(path);
  try {
    write(file.emit);
  } catch (error) {
    file.abort();
    throw error;
  }
  file.commit();
}
