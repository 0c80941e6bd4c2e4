/**
 * The fingerprint of what a plan was made from (`inputDigest`): both listings, the staged files,
 * the links below the volumes and the ledger serial. A saved plan is stale once it changes. It
 * is fed page by page as the merged pass reads the listings, so no listing is copied or sorted
 * for it; each listing has a hash of its own (their pages interleave in the pass), and the
 * final digest hashes those. Free space is left out on purpose: it moves with every write on the
 * machine, and apply checks room again anyway. Pure: the hash comes in as a factory.
 */
import type { LocalFile, LocalLink, ObjectEntry } from '../model/objects.ts';
import type { PageObserver } from './merge.ts';

/** A running hash (sha256 in the engine). */
export interface Hasher {
  update(text: string): void;
  hex(): string;
}

/** One line per entry, the key length first so that no key can pass for another's fields. */
function entryLines(page: readonly ObjectEntry[]): string {
  let text = '';
  for (const entry of page) text += `${entry.key.length}:${entry.key} ${entry.size} ${entry.etag}\n`;
  return text;
}

export class InventoryFingerprint {
  readonly #hasher: () => Hasher;
  readonly #source: Hasher;
  readonly #destination: Hasher;

  constructor(hasher: () => Hasher) {
    this.#hasher = hasher;
    this.#source = hasher();
    this.#destination = hasher();
  }

  /** Feeds the listings' pages to the fingerprint as the merge reads them. */
  get observer(): PageObserver {
    return {
      source: (page) => this.#source.update(entryLines(page)),
      destination: (page) => this.#destination.update(entryLines(page)),
    };
  }

  /** The digest, once the pass has read both listings to their end. */
  digest(inputs: { sourceUnreachable: boolean; destinationUnreachable: boolean; locals: readonly LocalFile[]; links: readonly LocalLink[]; ledgerSerial: number }): string {
    const hash = this.#hasher();
    // An unreachable hop is not an empty one: a plan made while a hop was down is stale once it is back.
    hash.update(`source ${inputs.sourceUnreachable ? 'unreachable' : this.#source.hex()}\n`);
    hash.update(`destination ${inputs.destinationUnreachable ? 'unreachable' : this.#destination.hex()}\n`);
    // Locals come sorted from the pass (key, then volume); links in scan order, so sorted here.
    for (const file of inputs.locals) hash.update(`local ${file.volume.length}:${file.volume} ${file.key.length}:${file.key} ${file.size}\n`);
    const links = inputs.links.map((link) => `link ${link.volume.length}:${link.volume} ${link.path.length}:${link.path}\n`).sort();
    for (const link of links) hash.update(link);
    hash.update(`ledger ${inputs.ledgerSerial}\n`);
    return hash.hex();
  }
}
