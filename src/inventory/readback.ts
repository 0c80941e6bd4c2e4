/**
 * Reading the destination back after an upload. "Delivered" means what the next `plan` will
 * see: the destination's listing shows that version (DESIGN.md, Verification). A server may
 * accept a PUT and not list it, for a while (a listing that lags behind writes) or for good
 * (MinIO lists nothing below the name of an object: with `a` an object, `a/b` is never listed,
 * though GET and HEAD answer). The first gets a few short retries; both end as a failed upload
 * whose reason says which it probably is.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { HopConfig } from '../model/config.ts';
import type { ObjectEntry } from '../model/objects.ts';
import { listedObjects } from './s3.ts';

/** Waits before each new listing of the keys still missing: bounded and short. */
export const RELIST_DELAYS_MS: readonly number[] = [250, 500, 1000];

export interface ReadBackOptions {
  delaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The listed entries of these relative keys (undefined: not listed), listing again the ones
 * still missing after each of a few short delays, for servers whose listing lags behind a PUT.
 */
export async function readBackListed(client: S3Client, hop: HopConfig, keys: readonly string[], options: ReadBackOptions = {}): Promise<Map<string, ObjectEntry | undefined>> {
  const found = await listedObjects(client, hop, keys);
  for (const delay of options.delaysMs ?? RELIST_DELAYS_MS) {
    const missing = [...found.keys()].filter((key) => found.get(key) === undefined);
    if (missing.length === 0) break;
    await (options.sleep ?? pause)(delay);
    for (const [key, entry] of await listedObjects(client, hop, missing)) if (entry !== undefined) found.set(key, entry);
  }
  return found;
}

/** The parent names of a relative key, nearest first: `coll/a` and `coll` for `coll/a/b`. */
export function parentNames(key: string): string[] {
  const parents: string[] = [];
  for (let slash = key.lastIndexOf('/'); slash > 0; slash = key.lastIndexOf('/', slash - 1)) parents.push(key.slice(0, slash));
  return parents;
}

/**
 * Why the destination accepted an upload of `key` but does not list it: an object listed at one
 * of its parent names (which hides it on MinIO), or else a listing that has not caught up.
 */
export async function explainUnlisted(client: S3Client, hop: HopConfig, key: string): Promise<string> {
  const parents = parentNames(key);
  const listed = parents.length > 0 ? await listedObjects(client, hop, parents).catch(() => new Map<string, ObjectEntry | undefined>()) : new Map();
  const hiding = parents.find((parent) => listed.get(parent) !== undefined);
  if (hiding !== undefined) {
    return (
      `the destination accepted the upload but does not list it: the object ${JSON.stringify(hiding)} is there too, and a server such as MinIO ` +
      `lists nothing below an object's name; the staged copy is kept. Rename or exclude one of the two at the source`
    );
  }
  const waited = RELIST_DELAYS_MS.reduce((sum, ms) => sum + ms, 0) / 1000;
  return `the destination accepted the upload but does not list it (listed ${RELIST_DELAYS_MS.length + 1} times over ${waited} s); the staged copy is kept and the next run uploads it again`;
}
