/**
 * Ajv's schema errors in an operator's words: one message per mistake, placed on the field,
 * with "did you mean" for typos and misplaced fields. Pure.
 */
import type { ErrorObject } from 'ajv';
import { fieldPath, valueAt, type Reporter, type Segment } from './positions.ts';
import { KNOWN_FIELDS, schemaAt } from './schema.ts';

/** What a value built on a shared definition must look like, in an operator's words. */
const EXPECTED_BY_DEFINITION: Record<string, string> = {
  size: 'a size such as 500GiB, 1.5TB or a byte count (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)',
  reserve: 'a percentage such as 5% or a size such as 20GiB',
  duration: 'a duration such as 30s, 5m, 1h30m or 500ms',
  url: 'an http:// or https:// URL such as https://192.0.2.10:8443',
  bucketName:
    'an S3 bucket name: 3 to 63 characters of lower-case letters, digits, "." and "-", starting and ending with a letter or digit (or an S3 on Outposts access point ARN, arn:aws:s3-outposts:...)',
  glob: 'a non-empty glob such as **/*.csv',
};
/** Definitions whose values may be echoed in messages (a URL may carry a proxy password). */
const ECHO_DEFINITIONS = new Set(['size', 'reserve', 'duration', 'bucketName']);

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping of fields',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
};

/**
 * Parses and validates sync.yaml. `file` names the file in diagnostics and becomes Config.file;
 * `env` resolves `${VAR}` references; `baseDir` (absolute) anchors relative paths. Reports every
/** Ajv's instancePath (`/source/credentials`) as segments, with array indexes as numbers. */
function segmentsOf(instancePath: string): Segment[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/**
 * One error per mistake: drops `if` wrappers, and folds the branches of a size, duration, URL or
 * bucket name into the one field they belong to.
 */
export function collapseErrors(errors: ErrorObject[]): ErrorObject[] {
  const folded = new Set<string>();
  const kept: ErrorObject[] = [];
  for (const error of errors) {
    if (error.keyword === 'if') continue;
    const { definition } = schemaAt(segmentsOf(error.instancePath));
    if (definition !== undefined && definition in EXPECTED_BY_DEFINITION && error.keyword !== 'required') {
      if (folded.has(error.instancePath)) continue;
      folded.add(error.instancePath);
      kept.push({ ...error, keyword: 'definition', params: { definition } });
      continue;
    }
    kept.push(error);
  }
  return kept;
}

export function reportSchemaError(error: ErrorObject, raw: unknown, report: Reporter): void {
  const segments = segmentsOf(error.instancePath);
  const value = valueAt(raw, segments);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys(schemaAt(segments).node?.properties ?? {});
      report.at('error', [...segments, name], `unknown field \`${name}\``, unknownFieldHint(name, segments, allowed), true);
      return;
    }
    case 'required': {
      const name = String(params.missingProperty);
      const where = segments.length === 0 ? 'at the top of the file' : `under \`${fieldPath(segments)}\``;
      report.add({
        severity: 'error',
        ...(segments.length === 0 ? { line: 1, column: 1 } : report.keyPosition(segments)),
        path: fieldPath([...segments, name]),
        message: `missing required field \`${name}\``,
        hint: requiredHint(segments, name, where),
      });
      return;
    }
    case 'definition': {
      const definition = String(params.definition);
      const expected = EXPECTED_BY_DEFINITION[definition] ?? 'a different value';
      const got = ECHO_DEFINITIONS.has(definition) && value !== null && value !== undefined ? ` (got ${JSON.stringify(value)})` : '';
      report.at('error', segments, value === null ? `is empty; expected ${expected}` : `expected ${expected}${got}`);
      return;
    }
    case 'type': {
      const expected = TYPE_WORDS[String(params.type)] ?? String(params.type);
      report.at('error', segments, value === null ? `is empty; expected ${expected}` : `expected ${expected}, got ${describeType(value)}`);
      return;
    }
    case 'const':
      report.at('error', segments, `must be ${JSON.stringify(params.allowedValue)}`, segments[0] === 'version' ? 'this dualsync reads `version: 1` files' : undefined);
      return;
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const suggestion = typeof value === 'string' ? closest(value, allowed) : undefined;
      report.at('error', segments, `expected one of ${allowed.map((a) => `\`${a}\``).join(', ')}`, suggestion ? `did you mean \`${suggestion}\`?` : undefined);
      return;
    }
    case 'minimum':
    case 'maximum':
      report.at('error', segments, `must be ${error.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params.limit)} (got ${JSON.stringify(value)})`);
      return;
    case 'minLength':
      report.at('error', segments, params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`);
      return;
    case 'maxLength':
      report.at('error', segments, `must be at most ${String(params.limit)} characters`);
      return;
    case 'minItems':
      report.at('error', segments, 'must list at least one entry');
      return;
    case 'false schema': {
      const name = String(segments[segments.length - 1]);
      report.at('error', segments, `\`${name}\` cannot be combined with \`profile\``, 'use either a profile or static keys, not both', true);
      return;
    }
    default:
      report.at('error', segments, error.message ?? `fails schema rule ${error.keyword}`);
  }
}

function requiredHint(segments: Segment[], name: string, where: string): string {
  if (segments[segments.length - 1] === 'credentials') {
    return 'give accessKeyId and secretAccessKey, or a profile, or remove credentials to use the default AWS chain';
  }
  if (segments.length === 0 && name === 'version') return 'add `version: 1` at the top of the file';
  return `add \`${name}:\` ${where}`;
}

function unknownFieldHint(name: string, segments: Segment[], allowed: string[]): string {
  const suggestion = closest(name, allowed);
  if (suggestion !== undefined) return `did you mean \`${suggestion}\`?`;
  // A known field written at the wrong level (`workers` at the top instead of under `transfer`).
  const here = segments.filter((s): s is string => typeof s === 'string').join('.');
  const elsewhere = KNOWN_FIELDS.filter((path) => path.split('.').slice(0, -1).join('.') !== here);
  const leaf = closest(name, elsewhere.map((path) => path.split('.').pop() ?? ''));
  const moved = elsewhere.find((path) => path.split('.').pop() === leaf);
  if (moved !== undefined) {
    const parent = moved.split('.').slice(0, -1).join('.');
    return parent === '' ? `\`${leaf}\` belongs at the top level` : `\`${leaf}\` belongs under \`${parent}\`: did you mean \`${moved}\`?`;
  }
  return allowed.length > 0 ? `fields allowed here: ${allowed.join(', ')}` : 'remove it';
}

function normalizedName(name: string): string {
  return name.toLowerCase().replace(/[-_\s]/g, '');
}

/** The candidate closest to `name` by edit distance, if it is close enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = normalizedName(candidate) === normalizedName(name) ? 0 : editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(1, Math.floor(name.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

/** Levenshtein distance, with a transposition counted as one edit (`wokrers`). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i += 1) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j += 1) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'nothing';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return 'a string';
  return typeof value;
}
