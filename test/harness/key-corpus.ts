/**
 * The hostile-key corpora of fixtures/keys/ as the integration tests put them into MinIO: the
 * cases, the body each key gets, the refusals MinIO gives for keys it cannot hold, and the rounds
 * that keep a key and its folder (`a`, `a/b`) apart, since MinIO cannot list both from one bucket.
 */
import { readFileSync } from 'node:fs';

export interface CorpusCase {
  key: string;
  expect: 'stage' | 'skip';
  reason?: string;
  note: string;
}

/** One corpus file of fixtures/keys/. */
export function readCorpus(name: string): CorpusCase[] {
  return (JSON.parse(readFileSync(new URL(`../../fixtures/keys/${name}`, import.meta.url), 'utf8')) as { keys: CorpusCase[] }).keys;
}

/** A refusal whose error name we expect ('.' segments, '//', NUL, over-long); anything else (a network error) fails the test. */
export const REFUSAL_ERRORS = /XMinioInvalidResourceName|XMinioInvalidObjectName|KeyTooLongError/;

/** The body a case's object gets: empty, multipart-sized (6 MiB, not all zeros) or a line naming the key. */
export function bodyOf(item: CorpusCase): Buffer {
  if (/zero-byte/.test(item.note)) return Buffer.alloc(0);
  if (/multipart-sized/.test(item.note)) {
    const body = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    return body;
  }
  return Buffer.from(`hostile body of ${JSON.stringify(item.key)}\n`, 'utf8');
}

/**
 * MinIO keeps an object as a folder on disk, so it cannot list both `a` and `a/b` from one
 * bucket (both can be put and read back, but a listing shows only `a`). The keys are therefore
 * spread over rounds, each its own pair of buckets, with no key the folder of another in a round.
 */
export function rounds(items: CorpusCase[]): CorpusCase[][] {
  const result: CorpusCase[][] = [];
  for (const item of items) {
    const clashes = (other: CorpusCase) => other.key.startsWith(`${item.key}/`) || item.key.startsWith(`${other.key}/`);
    const round = result.find((candidate) => !candidate.some(clashes));
    if (round) round.push(item);
    else result.push([item]);
  }
  return result;
}
