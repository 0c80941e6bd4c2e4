/**
 * The one mapping from a relative key to a path on a staging volume: where a staged object lives
 * and where its download lands first. Pure: run files (manifest/) and apply use the same paths.
 */
import { assert } from '../errors.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';
import { keySkipReason } from './keys.ts';

/** The last root checked: manifests map a million keys onto a handful of roots. */
let lastRoot: { root: string; prefix: string } | undefined;

/** The volume root without trailing slashes ('' for '/'), after checking it is an absolute, plain path. */
function rootPrefix(volumeRoot: string): string {
  if (volumeRoot === lastRoot?.root) return lastRoot.prefix;
  assert(volumeRoot.startsWith('/'), `volume root ${JSON.stringify(volumeRoot)} is not an absolute path`);
  let end = volumeRoot.length;
  while (end > 0 && volumeRoot.charCodeAt(end - 1) === 0x2f) end--;
  const root = volumeRoot.slice(0, end);
  for (const segment of root.split('/').slice(1)) {
    assert(segment !== '' && segment !== '.' && segment !== '..', `volume root ${JSON.stringify(volumeRoot)} is not a normalised path`);
  }
  lastRoot = { root: volumeRoot, prefix: root };
  return root;
}

function assertStageable(key: string): void {
  const reason = keySkipReason(key);
  assert(reason === undefined, `key ${JSON.stringify(key)} cannot become a local path: ${JSON.stringify(reason)}`);
}

/** Where a staged object lives: `<volumeRoot>/<key>`. Throws an assertion for a key that {@link keySkipReason} refuses. */
export function localPath(volumeRoot: string, key: string): string {
  assertStageable(key);
  return `${rootPrefix(volumeRoot)}/${key}`;
}

/** Where a download lands before verification: `<volumeRoot>/.dualsync-tmp/<key>`. Throws like {@link localPath}. */
export function tempPath(volumeRoot: string, key: string): string {
  assertStageable(key);
  return `${rootPrefix(volumeRoot)}/${TEMP_DIR}/${key}`;
}
