/**
 * Where a run's temporary files go (spooled actions, a listing's sort, a saved plan read back):
 * beside the ledger, on the disk sized for it.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../model/config.ts';
import { SpoolFolder } from './spool.ts';

/** The folder that holds the run's spool folders. */
export function spoolParent(config: Config): string {
  // A plan made before the first apply must not create the state directory (plan writes
  // nothing that outlives it): its temporary files go to the system's temporary folder then.
  return existsSync(config.stateDir) ? join(config.stateDir, 'spool') : join(tmpdir(), 'dualsync-spool');
}

/** A spool folder of this run, under {@link spoolParent}. */
export function spoolFolder(config: Config): SpoolFolder {
  return SpoolFolder.at(spoolParent(config));
}
