/** The real binaries the integration tests drive: never a stand-in, never a silent skip. */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Tools {
  s5cmd: string;
  minio: string;
  /** Present once `npm run tools` has built it; the tests that need it call requireToxiproxy(). */
  toxiproxy?: string;
}

/** The repository's .tools/ folder, or $DUALSYNC_TOOLS. */
export function toolsDir(): string {
  return process.env.DUALSYNC_TOOLS ?? fileURLToPath(new URL('../../.tools/', import.meta.url));
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Paths of s5cmd and MinIO (and Toxiproxy when built); throws a one-line instruction when one is missing. */
export function requireTools(): Tools {
  const dir = toolsDir();
  const s5cmd = join(dir, 's5cmd');
  const minio = join(dir, 'minio');
  const toxiproxy = join(dir, 'toxiproxy-server');
  const missing = [s5cmd, minio].filter((path) => !executable(path));
  if (missing.length > 0) {
    throw new Error(`integration tests need ${missing.join(' and ')}: run \`npm run tools\` (scripts/install-tools.sh; Go is needed)`);
  }
  return executable(toxiproxy) ? { s5cmd, minio, toxiproxy } : { s5cmd, minio };
}

/** Path of toxiproxy-server; throws the same instruction as requireTools() when it is missing. */
export function requireToxiproxy(): string {
  const tools = requireTools();
  if (tools.toxiproxy === undefined) {
    throw new Error(`integration tests need ${join(toolsDir(), 'toxiproxy-server')}: run \`npm run tools\` (scripts/install-tools.sh; Go is needed)`);
  }
  return tools.toxiproxy;
}

/**
 * Path of .tools/s5cmd-stock: s5cmd built from the same version without the project's patch
 * (scripts/install-tools.sh builds it), for the test that shows what the patch changes.
 */
export function requireStockS5cmd(): string {
  const path = join(toolsDir(), 's5cmd-stock');
  if (!executable(path)) {
    throw new Error(`integration tests need ${path}: run \`npm run tools\` (scripts/install-tools.sh; Go is needed)`);
  }
  return path;
}
