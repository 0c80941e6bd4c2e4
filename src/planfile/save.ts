/**
 * Saving a plan (`plan --out FILE`): the plan file with its digests, and its two manifests
 * beside it, each written whole or not at all, as the plan's actions are read (never whole in
 * memory).
 */
import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Config, Plan, PlanFile } from '../model/index.ts';
import { AtomicFile, writeFileAtomically } from '../files/atomic.ts';
import { writeManifests } from '../manifest/s5cmd.ts';
import { digestConfig, digestConfigFields, digestPlan } from './digest.ts';
import { PLAN_FORMAT_VERSION, writePlanFile } from './write.ts';

/** Paths of the two manifests beside a plan file: `plan.json` -> `plan.download.s5cmd`, `plan.upload.s5cmd`. */
export function manifestPaths(planPath: string): { download: string; upload: string } {
  const stem = join(dirname(planPath), basename(planPath, extname(planPath)));
  return { download: `${stem}.download.s5cmd`, upload: `${stem}.upload.s5cmd` };
}

/** What a saved plan records of the run that made it, besides the plan. */
export interface PlanOrigin {
  plan: Plan;
  createdAt: string;
  /** The inputs' fingerprint (src/plan/fingerprint.ts). */
  inputDigest: string;
  ledgerSerial: number;
}

/** The plan as a file records it. Digesting the plan is the costly part, so only a saved plan pays it. */
export function planFileOf(origin: PlanOrigin, config: Config): PlanFile {
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    createdAt: origin.createdAt,
    configDigest: digestConfig(config),
    configFields: digestConfigFields(config),
    inputDigest: origin.inputDigest,
    ledgerSerial: origin.ledgerSerial,
    planDigest: digestPlan(origin.plan),
    plan: origin.plan,
  };
}

/** Writes the plan file and its two manifests, each complete or not at all, as the plan is read (never whole in memory). */
export async function writePlanFiles(planPath: string, origin: PlanOrigin, config: Config): Promise<{ download: string; upload: string }> {
  await mkdir(dirname(planPath), { recursive: true });
  const paths = manifestPaths(planPath);
  const download = new AtomicFile(paths.download);
  const upload = new AtomicFile(paths.upload);
  try {
    writeManifests(origin.plan, config, { download: download.emit, upload: upload.emit });
  } catch (error) {
    download.abort();
    upload.abort();
    throw error;
  }
  download.commit();
  upload.commit();
  writeFileAtomically(planPath, (emit) => writePlanFile(planFileOf(origin, config), emit));
  return paths;
}
