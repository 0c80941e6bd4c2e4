/**
 * The digests a plan file records: of the config that shaped it (whole, and field by field so
 * that a stale plan can name what changed) and of the plan itself, in its canonical form (see
 * write.ts), fed to the hash piece by piece.
 */
import { createHash } from 'node:crypto';
import type { Config, Plan } from '../model/index.ts';
import { YAML_FIELD_NAMES } from '../config/schema.ts';
import { writeCanonicalPlan } from './write.ts';

/** The settings that shape a plan: credentials reduced to their kind so they can rotate; no file path, no watch settings. */
function plannedShape(config: Config): Record<string, unknown> {
  const strip = (hop: Config['source']) => ({ ...hop, credentials: hop.credentials.kind });
  return { ...config, file: undefined, source: strip(config.source), destination: strip(config.destination), watch: undefined };
}

/** Digest of the settings that shape a plan; credentials are left out so they can rotate. */
export function digestConfig(config: Config): string {
  return createHash('sha256').update(JSON.stringify(plannedShape(config))).digest('hex');
}

/**
 * A short digest of each field that shapes a plan, named as in sync.yaml (`source.prefix`,
 * `transfer.partSize`, `staging.volumes`), so that a stale plan can say which fields changed.
 * Digests, not values: a plan file must not carry a proxy URL's password.
 */
export function digestConfigFields(config: Config): Record<string, string> {
  const fields: Record<string, string> = {};
  const short = (value: unknown) => createHash('sha256').update(JSON.stringify(value) ?? 'undefined').digest('hex').slice(0, 16);
  for (const [section, value] of Object.entries(plannedShape(config))) {
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      fields[section] = short(value);
      continue;
    }
    for (const [name, inner] of Object.entries(value)) {
      if (inner !== undefined) fields[`${section}.${YAML_FIELD_NAMES[name] ?? name}`] = short(inner);
    }
  }
  return fields;
}

/**
 * Pieces gathered into about 64 KiB before they reach the hash: one native call per action
 * would cost more than the hashing.
 */
export function hashFeed(hash: ReturnType<typeof createHash>): { emit: (piece: string) => void; flush: () => void } {
  let pending: string[] = [];
  let length = 0;
  const flush = () => {
    if (pending.length === 0) return;
    hash.update(pending.join(''));
    pending = [];
    length = 0;
  };
  const emit = (piece: string) => {
    pending.push(piece);
    length += piece.length;
    if (length >= 1 << 16) flush();
  };
  return { emit, flush };
}

/** The digest of a plan (its canonical form), fed piece by piece: at a few million actions one string of it would pass V8's limit. */
export function digestPlan(plan: Plan): string {
  const hash = createHash('sha256');
  const feed = hashFeed(hash);
  writeCanonicalPlan(plan, feed.emit);
  feed.flush();
  return hash.digest('hex');
}
