/**
 * Running as the release's single executable (a Node SEA built by scripts/release.ts) instead
 * of from a checkout. In the executable there is no source tree: the files the package ships
 * (schemas/, s5cmd) lie beside the executable in the unpacked archive, and the ledger writer's
 * script is an asset embedded in it.
 */
import { getAsset, isSea } from 'node:sea';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True in the release's single executable. */
export const inSingleExecutable: boolean = isSea();

/**
 * The folder of the running release executable (its real path: a symlink to it on the PATH
 * leads here), or undefined when dualsync runs from a checkout.
 */
export function releaseFolder(): string | undefined {
  return inSingleExecutable ? dirname(process.execPath) : undefined;
}

/**
 * A file the package ships, by its path in the package: beside the executable in a release (the
 * archive keeps the package's layout), else `fromSource`, the same file found from the module.
 */
export function packageFile(path: string, fromSource: URL): string {
  const release = releaseFolder();
  return release === undefined ? fileURLToPath(fromSource) : join(release, path);
}

/** The text of a script embedded in the executable, or undefined from a checkout. */
export function embeddedScript(name: string): string | undefined {
  return inSingleExecutable ? getAsset(name, 'utf8') : undefined;
}
