/**
 * Converts the config.yaml of transfer_v5 (the Python + s5cmd scripts dualsync replaces) into a
 * sync.yaml. Pure: the caller reads and writes the files. Secrets are never copied: each one
 * becomes a ${DUALSYNC_...} reference that the operator sets in the environment.
 */
import { isMap, isScalar, parseDocument, type Pair } from 'yaml';
import { userError } from '../errors.ts';
import { resolvePosix } from './meaning.ts';
import { parseConfig } from './parse.ts';
import { parseSize } from './units.ts';
import { LEGACY_KEYS, type LegacyField } from './legacy-keys.ts';

export { LEGACY_KEYS } from './legacy-keys.ts';

/** Environment variables that replace the legacy secrets, per hop. */
export const LEGACY_SECRET_VARIABLES = {
  sourceAccessKey: 'DUALSYNC_SOURCE_ACCESS_KEY_ID',
  sourceSecretKey: 'DUALSYNC_SOURCE_SECRET_ACCESS_KEY',
  destinationAccessKey: 'DUALSYNC_DESTINATION_ACCESS_KEY_ID',
  destinationSecretKey: 'DUALSYNC_DESTINATION_SECRET_ACCESS_KEY',
} as const;

export interface LegacySecret {
  /** The variable the new config refers to. */
  variable: string;
  /** The key that held the secret in the legacy file, as written there. */
  legacyKey: string;
}

export interface LegacyConversion {
  /** The new sync.yaml text; it holds no secret. */
  yaml: string;
  /** Variables to set before running dualsync. */
  secrets: LegacySecret[];
  /** What the conversion changed or could not carry over, for the operator to read. */
  notes: string[];
}

const NO_ENDPOINT = new Set(['', 'no_endpoint', 'none', 'null']);

/** `Source Bucket Name`, `src-bucket-name` -> `source_bucket_name`. */
export function normalizeLegacyKey(key: string): string {
  return key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .split('_')
    .map((word) => (word === 'src' ? 'source' : word === 'dest' || word === 'dst' ? 'destination' : word))
    .join('_');
}

const FIELD_BY_KEY = new Map<string, LegacyField>(
  (Object.entries(LEGACY_KEYS) as [LegacyField, readonly string[]][]).flatMap(([field, keys]) => keys.map((key) => [key, field] as const)),
);

/**
 * Converts legacy config text into sync.yaml text. `legacyDir` (absolute) anchors the legacy
 * file's relative paths, which become absolute so the new file can live anywhere; `schemaRef` goes
 * into the yaml-language-server comment. Throws a user error when the result would not validate.
 */
export function convertLegacyConfig(text: string, file: string, legacyDir: string, schemaRef: string): LegacyConversion {
  const { values, keys, unknown } = readLegacyValues(text, file);
  const problems: string[] = [];
  const notes: string[] = unknown.map((key) => `ignored the unknown key ${JSON.stringify(key)}`);
  const secrets: LegacySecret[] = [];

  const required = (field: LegacyField, what: string): string => {
    const value = values.get(field);
    if (value === undefined || value === '') problems.push(`${what} is missing or empty (key ${keys.get(field) ?? LEGACY_KEYS[field][0]})`);
    return value ?? '';
  };

  const hop = (side: 'source' | 'destination'): string[] => {
    const bucket = required(`${side}Bucket`, `${side} bucket name`);
    const region = required(`${side}Region`, `${side} region`);
    const written = values.get(`${side}Prefix`) ?? '';
    const prefix = written.replace(/^\/+/, '').replace(/([^/])$/, '$1/');
    if (prefix !== written) notes.push(`${side} prefix ${JSON.stringify(written)} became ${JSON.stringify(prefix)} (no leading '/', a trailing '/')`);
    const endpointValue = values.get(`${side}Endpoint`) ?? '';
    const endpoint = NO_ENDPOINT.has(endpointValue.trim().toLowerCase()) ? undefined : endpointValue.trim();
    const lines = [`${side}:`, `  bucket: ${quote(bucket)}`, `  prefix: ${quote(prefix)}`, `  region: ${quote(region)}`];
    if (endpoint !== undefined) lines.push(`  endpoint: ${quote(endpoint)}`);
    if (region === 'snow' && endpoint?.toLowerCase().startsWith('https:')) {
      lines.push("  # The device's certificate (snowballEdge get-certificate) is needed for https:", '  # tls: { caBundle: ./snowball.pem }');
      notes.push(`the ${side} is a Snowball Edge over https: save its certificate and set ${side}.tls.caBundle`);
    }
    const accessField = `${side}AccessKey` as const;
    const secretField = `${side}SecretKey` as const;
    if (values.get(accessField) || values.get(secretField)) {
      lines.push('  credentials:');
      lines.push(`    accessKeyId: \${${LEGACY_SECRET_VARIABLES[accessField]}}`);
      lines.push(`    secretAccessKey: \${${LEGACY_SECRET_VARIABLES[secretField]}}`);
      secrets.push({ variable: LEGACY_SECRET_VARIABLES[accessField], legacyKey: keys.get(accessField) ?? LEGACY_KEYS[accessField][0] ?? '' });
      secrets.push({ variable: LEGACY_SECRET_VARIABLES[secretField], legacyKey: keys.get(secretField) ?? LEGACY_KEYS[secretField][0] ?? '' });
    } else {
      lines.push('  # No keys in the legacy file: the default AWS credential chain is used.');
      notes.push(`the ${side} had no access keys: dualsync will use the default AWS credential chain`);
    }
    return lines;
  };

  const sourceLines = hop('source');
  const destinationLines = hop('destination');

  const directory = required('intermediaryDirectory', 'intermediary directory');
  const volume = directory === '' || directory.startsWith('/') ? directory : resolvePosix(legacyDir, directory);
  if (volume !== directory) notes.push(`the relative intermediary directory ${JSON.stringify(directory)} became ${volume}`);

  const transferLines = ['transfer:'];
  const maxDownload = values.get('maxSourceToLocalBytes');
  if (maxDownload !== undefined && maxDownload !== '') {
    const bytes = legacyNumber(maxDownload, maxDownload, 'max transfer size (source to local), in bytes,', problems);
    if (bytes !== undefined) transferLines.push(`  maxBatchBytes: ${sizeText(bytes)}  # transfer_v5: max transfer size, source to local`);
  }
  const maxUploadGb = values.get('maxLocalToDestinationGb');
  if (maxUploadGb !== undefined && maxUploadGb !== '' && Number(maxUploadGb) !== 0) {
    const gb = legacyNumber(`${maxUploadGb}GB`, maxUploadGb, 'max transfer size (local to destination), in GB,', problems);
    if (gb !== undefined) {
      transferLines.push(`  maxUploadBatchBytes: ${sizeText(gb)}  # transfer_v5 did not enforce this; dualsync does`);
      notes.push('max transfer size (local to destination) was not implemented in transfer_v5; dualsync enforces it as transfer.maxUploadBatchBytes');
    }
  }

  if (problems.length > 0) {
    throw userError('E_LEGACY', `${file}: cannot convert (${problems.length} problem${problems.length === 1 ? '' : 's'})`, {
      details: problems,
      hint: 'fill in the fields in the legacy file (or write sync.yaml by hand from `dualsync init`)',
    });
  }

  const yaml = [
    `# yaml-language-server: $schema=${schemaRef}`,
    `# Converted by \`dualsync import-legacy\` from ${file} (transfer_v5).`,
    '# Secrets were not copied: the credentials below name environment variables to set.',
    'version: 1',
    '',
    ...sourceLines,
    '',
    ...destinationLines,
    '',
    'staging:',
    "  # transfer_v5's multi-volume scripts staged to numbered folders (base path + 01..99): list",
    '  # them here instead, e.g. "/tmp/volume-*" (the base path + "*"); each matched directory is one volume.',
    `  volumes: [${quote(volume)}]`,
    '  reserve: 5%',
    '',
    'stateDir: ./.dualsync',
    ...(transferLines.length > 1 ? ['', ...transferLines] : []),
    '',
  ].join('\n');

  const placeholders = Object.fromEntries(secrets.map((s) => [s.variable, 'placeholder']));
  const check = parseConfig(yaml, file, placeholders, legacyDir);
  const invalid = check.diagnostics.filter((d) => d.severity === 'error');
  if (invalid.length > 0) {
    throw userError('E_LEGACY', `${file}: the converted config would not be valid`, {
      details: invalid.map((d) => `${d.path}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`),
      hint: 'fix these values in the legacy file, or write sync.yaml by hand from `dualsync init`',
    });
  }
  return { yaml, secrets, notes };
}

function readLegacyValues(text: string, file: string): { values: Map<LegacyField, string>; keys: Map<LegacyField, string>; unknown: string[] } {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw userError('E_LEGACY', `${file} is not valid YAML`, { details: doc.errors.map((e) => e.message.split('\n')[0] ?? e.message) });
  }
  if (!isMap(doc.contents)) throw userError('E_LEGACY', `${file} is not a transfer_v5 config.yaml: expected key: value lines`);
  const values = new Map<LegacyField, string>();
  const keys = new Map<LegacyField, string>();
  const unknown: string[] = [];
  const visit = (pairs: Pair[], parent: string): void => {
    for (const pair of pairs) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      if (isMap(pair.value)) {
        visit(pair.value.items as Pair[], key);
        continue;
      }
      // A key inside a section ("Source Configuration: {Bucket Name: ...}") may need the section's words.
      const field = FIELD_BY_KEY.get(normalizeLegacyKey(key)) ?? FIELD_BY_KEY.get(normalizeLegacyKey(`${parent} ${key}`));
      if (field === undefined) {
        unknown.push(key);
        continue;
      }
      const value = isScalar(pair.value) ? pair.value.value : pair.value;
      values.set(field, value === null || value === undefined ? '' : String(value).trim());
      keys.set(field, key);
    }
  };
  visit(doc.contents.items as Pair[], '');
  return { values, keys, unknown };
}

function legacyNumber(size: string, written: string, what: string, problems: string[]): number | undefined {
  try {
    return parseSize(size);
  } catch {
    problems.push(`${what} ${JSON.stringify(written)} is not a number`);
    return undefined;
  }
}

/** The shortest exact spelling of a byte count: `500GB` rather than 500000000000. */
function sizeText(bytes: number): string {
  const units: [string, number][] = [
    ['TiB', 1024 ** 4],
    ['TB', 1000 ** 4],
    ['GiB', 1024 ** 3],
    ['GB', 1000 ** 3],
    ['MiB', 1024 ** 2],
    ['MB', 1000 ** 2],
    ['KiB', 1024],
    ['KB', 1000],
  ];
  if (bytes === 0) return '0';
  const exact = units.find(([, size]) => bytes % size === 0);
  return exact ? `${bytes / exact[1]}${exact[0]}` : String(bytes);
}

function quote(value: string): string {
  return JSON.stringify(value);
}
