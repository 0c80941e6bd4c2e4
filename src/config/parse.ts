/**
 * sync.yaml text -> Config, or every problem with its file:line:column. Pure: the environment and
 * the config file's folder come in as arguments, and checks that need the disk (volumes, CA bundle)
 * are handed to load.ts as references.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Pair } from 'yaml';
import schemaJson from '../../schemas/sync.schema.json' with { type: 'json' };
import { assert, isDualsyncError } from '../errors.ts';
import type { Config, Credentials, HopConfig, Reserve, UnsetVariable } from '../model/config.ts';
import { compileGlob } from '../plan/filters.ts';
import { endpointPlace, nestedPrefixes, samePlaceByText } from './place.ts';
import { parseDuration, parsePercentOrSize, parseSize } from './units.ts';

export interface Diagnostic {
  severity: 'error' | 'warning';
  file: string;
  line: number;
  column: number;
  /** Field path such as `source.credentials.secretAccessKey` or `staging.volumes[1]`. */
  path: string;
  message: string;
  hint?: string;
}

/** A path named by the config that only the disk can check; load.ts checks each one. */
export interface PathReference {
  kind: 'volume' | 'caBundle' | 'stateDir';
  /** Absolute (resolved against the config file's folder); a volume entry may be a glob. */
  path: string;
  /** The entry as written, for messages. */
  written: string;
  field: string;
  line: number;
  column: number;
}

/**
 * Source and destination name one bucket with nested prefixes on two host names with one port:
 * the same place if the names resolve to one address, which load.ts asks DNS.
 */
export interface EndpointAliasCheck {
  field: string;
  line: number;
  column: number;
  hosts: [string, string];
  /** The error to report when the hosts are one. */
  message: string;
  hint: string;
}

export interface ParseOptions {
  /**
   * Leave credential fields whose \${VAR} is not set unresolved instead of failing: they are
   * recorded in the hop's Credentials.unset, and only a command that contacts that hop fails
   * (requireCredentials). status, reset or volumes list then run without any secret.
   */
  deferCredentials?: boolean;
}

export interface ParseResult {
  /** Present only when there is no error. */
  config?: Config;
  /** Errors and warnings, sorted by line. */
  diagnostics: Diagnostic[];
  references: PathReference[];
  aliases: EndpointAliasCheck[];
}

/** Defaults the schema documents; a unit test keeps the two in step. */
export const DEFAULTS = {
  prefix: '',
  tlsVerify: true,
  snowMaxConnections: 500,
  reserve: '5%',
  stateDir: './.dualsync',
  maxBatchBytes: '500GiB',
  maxUploadBatchBytes: '500GiB',
  workers: 256,
  concurrency: 5,
  partSize: '50MiB',
  verify: 'size',
  adopt: 'content',
  purgeAfterUpload: true,
  include: ['**'],
  exclude: [] as string[],
  retryBackoffMax: '6h',
  watchInterval: '30s',
  stallTimeout: '2m',
} as const;

const MIB = 1024 * 1024;
const SNOW = 'snow';
/** A Snowball Edge drops connections beyond this many. */
const SNOW_CONNECTION_LIMIT = 1000;

type Segment = string | number;
type Position = { line: number; column: number };

interface SchemaNode {
  $ref?: string;
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  definitions?: Record<string, SchemaNode>;
}

/** The JSON Schema of sync.yaml, for editors, docs and validation alike. */
export const configSchema: SchemaNode = schemaJson as SchemaNode;

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validateSchema = ajv.compile(schemaJson);

const YAML_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  MISSING_CHAR: 'a quote or bracket opened above is not closed',
  DUPLICATE_KEY: 'a field may appear once; remove one of the two',
};

/** What a value built on a shared definition must look like, in an operator's words. */
const EXPECTED_BY_DEFINITION: Record<string, string> = {
  size: 'a size such as 500GiB, 1.5TB or a byte count (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)',
  reserve: 'a percentage such as 5% or a size such as 20GiB',
  duration: 'a duration such as 30s, 5m, 1h30m or 500ms',
  url: 'an http:// or https:// URL such as https://192.0.2.10:8443',
  bucketName:
    'an S3 bucket name: 3 to 63 characters of lower-case letters, digits, "." and "-", starting and ending with a letter or digit',
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
 * problem at once rather than the first.
 */
export function parseConfig(text: string, file: string, env: Record<string, string | undefined>, baseDir: string, options: ParseOptions = {}): ParseResult {
  assert(baseDir.startsWith('/'), `config base directory must be absolute, got ${baseDir}`);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const report = new Reporter(file, doc, lineCounter);

  for (const problem of [...doc.errors, ...doc.warnings]) {
    const { line, column } = report.offsetPosition(problem.pos[0]);
    report.add({
      severity: problem.name === 'YAMLWarning' ? 'warning' : 'error',
      line,
      column,
      path: '(yaml)',
      message: firstLine(problem.message),
      hint: YAML_HINTS[problem.code] ?? 'check the indentation and the quoting on this line and the ones above',
    });
  }
  if (report.hasErrors()) return { diagnostics: report.sorted(), references: [], aliases: [] };

  const { referenced, unsetCredentials } = resolveEnvReferences(doc, env, report, options.deferCredentials ?? false);
  const raw: unknown = doc.toJS();
  if (!validateSchema(raw)) {
    for (const error of collapseErrors(validateSchema.errors ?? [])) reportSchemaError(error, raw, report);
  }
  const checked = checkMeaning(raw, referenced, baseDir, report);
  return {
    config: report.hasErrors() ? undefined : buildConfig(raw as RawConfig, checked, referenced, file, unsetCredentials),
    diagnostics: report.sorted(),
    references: checked.references,
    aliases: checked.aliases,
  };
}

// ---------------------------------------------------------------------------------------------
// Positions and the diagnostics list

class Reporter {
  readonly file: string;
  private readonly doc: Document;
  private readonly lineCounter: LineCounter;
  private readonly diagnostics: Diagnostic[] = [];
  /** Fields that already have an error, so that one mistake yields one message. */
  private readonly failed = new Set<string>();

  constructor(file: string, doc: Document, lineCounter: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lineCounter = lineCounter;
  }

  add(diagnostic: Omit<Diagnostic, 'file'>): void {
    if (diagnostic.severity === 'error') {
      if (this.failed.has(diagnostic.path) && diagnostic.path !== '(yaml)') return;
      this.failed.add(diagnostic.path);
    }
    this.diagnostics.push({ file: this.file, ...diagnostic });
  }

  /** Adds a diagnostic placed on the value at `segments` (or on its key when `onKey`). */
  at(severity: Diagnostic['severity'], segments: Segment[], message: string, hint?: string, onKey = false): void {
    const position = onKey ? this.keyPosition(segments) : this.valuePosition(segments);
    this.add({ severity, ...position, path: fieldPath(segments), message, ...(hint === undefined ? {} : { hint }) });
  }

  hasFailed(segments: Segment[]): boolean {
    const path = fieldPath(segments);
    for (const failed of this.failed) {
      if (failed === path || path.startsWith(`${failed}.`) || path.startsWith(`${failed}[`)) return true;
    }
    return false;
  }

  hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }

  sorted(): Diagnostic[] {
    return [...this.diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
  }

  offsetPosition(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line: Math.max(line, 1), column: Math.max(col, 1) };
  }

  /** The value node at `segments`, or the closest ancestor that exists. */
  valuePosition(segments: Segment[]): Position {
    const found = this.walk(segments);
    const range = found.value?.range ?? found.key?.range;
    return range ? this.offsetPosition(range[0]) : this.offsetPosition(0);
  }

  /** The key node of the last segment (where an unknown or misplaced field is written). */
  keyPosition(segments: Segment[]): Position {
    const found = this.walk(segments);
    const range = found.complete ? (found.key?.range ?? found.value?.range) : found.value?.range;
    return range ? this.offsetPosition(range[0]) : this.offsetPosition(0);
  }

  private walk(segments: Segment[]): { key?: RangedNode; value?: RangedNode; complete: boolean } {
    let value = asRanged(this.doc.contents);
    let key: RangedNode | undefined;
    for (const segment of segments) {
      const node: unknown = value;
      let next: { key?: RangedNode; value?: RangedNode } | undefined;
      if (typeof segment === 'string' && isMap(node)) {
        const pair = (node.items as Pair[]).find((item) => isScalar(item.key) && String(item.key.value) === segment);
        if (pair) next = { key: asRanged(pair.key), value: asRanged(pair.value) ?? asRanged(pair.key) };
      } else if (typeof segment === 'number' && isSeq(node)) {
        const item = asRanged(node.items[segment]);
        if (item) next = { value: item };
      }
      if (!next) return { key, value, complete: false };
      key = next.key;
      value = next.value;
    }
    return { key, value, complete: true };
  }
}

type RangedNode = { range?: readonly [number, number, number] | null };

function asRanged(node: unknown): RangedNode | undefined {
  if (typeof node === 'object' && node !== null && 'range' in node) return node as RangedNode;
  return undefined;
}

/** `source.credentials.secretAccessKey`, `staging.volumes[1]`; `(root)` for the whole file. */
function fieldPath(segments: Segment[]): string {
  let path = '';
  for (const segment of segments) {
    path += typeof segment === 'number' ? `[${segment}]` : path === '' ? segment : `.${segment}`;
  }
  return path === '' ? '(root)' : path;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}

// ---------------------------------------------------------------------------------------------
// ${VAR} references

const REFERENCE = /\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${VAR}` in every string value with the variable's value, in place. Returns the field
 * paths that held a reference, so that secrets written as references are not warned about.
 */
function resolveEnvReferences(
  doc: Document,
  env: Record<string, string | undefined>,
  report: Reporter,
  deferCredentials: boolean,
): { referenced: Set<string>; unsetCredentials: UnsetVariable[] } {
  const referenced = new Set<string>();
  const unsetCredentials: UnsetVariable[] = [];
  const visit = (node: unknown, segments: Segment[]): void => {
    if (isMap(node)) {
      for (const pair of node.items as Pair[]) {
        if (isScalar(pair.key)) visit(pair.value, [...segments, String(pair.key.value)]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...segments, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      referenced.add(fieldPath(segments));
      let missing = false;
      const resolved = node.value.replace(REFERENCE, (whole, name: string) => {
        if (!VARIABLE_NAME.test(name)) {
          report.at('error', segments, `invalid reference ${whole}: a variable name is letters, digits and "_"`, 'write it as ${NAME}');
          missing = true;
          return whole;
        }
        const value = env[name];
        if (value === undefined && deferCredentials && segments[1] === 'credentials' && typeof segments[2] === 'string') {
          const { line, column } = report.valuePosition(segments);
          unsetCredentials.push({ variable: name, field: fieldPath(segments), where: `${report.file}:${line}:${column}` });
          missing = true;
          return whole;
        }
        if (value === undefined) {
          report.at('error', segments, `environment variable ${name} is not set`, `set ${name} in the environment that runs dualsync, or change this field`);
          missing = true;
          return whole;
        }
        return value;
      });
      if (!missing) node.value = resolved;
    }
  };
  visit(doc.contents, []);
  return { referenced, unsetCredentials };
}

// ---------------------------------------------------------------------------------------------
// Schema errors in an operator's words

/** The schema node that describes the value at `segments`, following $ref. */
function schemaAt(segments: Segment[]): { node?: SchemaNode; definition?: string } {
  let node: SchemaNode | undefined = configSchema;
  let definition: string | undefined;
  const deref = (n: SchemaNode | undefined): SchemaNode | undefined => {
    definition = undefined;
    while (n?.$ref) {
      definition = n.$ref.replace('#/definitions/', '');
      n = configSchema.definitions?.[definition];
    }
    return n;
  };
  for (const segment of segments) {
    const container = deref(node);
    node = typeof segment === 'number' ? container?.items : container?.properties?.[segment];
  }
  const resolved = deref(node);
  return { node: resolved, definition };
}

/** Every field path the schema knows, for "`workers` belongs under `transfer`" hints. */
function knownFieldPaths(): string[] {
  const paths: string[] = [];
  const walk = (segments: string[], node: SchemaNode | undefined, depth: number): void => {
    const resolved = node?.$ref ? configSchema.definitions?.[node.$ref.replace('#/definitions/', '')] : node;
    for (const [name, child] of Object.entries(resolved?.properties ?? {})) {
      paths.push([...segments, name].join('.'));
      if (depth < 4) walk([...segments, name], child, depth + 1);
    }
  };
  walk([], configSchema, 0);
  return paths;
}
const KNOWN_FIELDS = knownFieldPaths();

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
function collapseErrors(errors: ErrorObject[]): ErrorObject[] {
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

function reportSchemaError(error: ErrorObject, raw: unknown, report: Reporter): void {
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

// ---------------------------------------------------------------------------------------------
// Meaning: what the schema cannot say

type RawHop = {
  bucket: string;
  prefix?: string;
  region: string;
  endpoint?: string;
  addressing?: 'path' | 'virtual';
  tls?: { verify?: boolean; caBundle?: string };
  proxy?: string;
  listApi?: 'v1' | 'v2';
  maxConnections?: number;
  credentials?: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; profile?: string };
};
type RawConfig = {
  version: 1;
  source: RawHop;
  destination: RawHop;
  staging: { volumes: string[]; reserve?: string | number };
  stateDir?: string;
  transfer?: {
    maxBatchBytes?: string | number;
    maxUploadBatchBytes?: string | number;
    workers?: number;
    concurrency?: number;
    partSize?: string | number;
    verify?: 'size' | 'etag';
    adopt?: 'content' | 'transfer' | 'size';
    purgeAfterUpload?: boolean;
    stallTimeout?: string;
    include?: string[];
    exclude?: string[];
    retryBackoff?: { base?: string; max?: string };
  };
  watch?: { interval?: string };
};

/** Values that the meaning checks already converted, so that the config builder reuses them. */
interface Checked {
  sizes: Map<string, number>;
  reserve?: Reserve;
  intervalMs?: number;
  stallTimeoutMs?: number;
  /** Converted durations of `transfer.retryBackoff`, by field name. */
  retryBackoff: Map<string, number>;
  paths: Map<string, string>;
  references: PathReference[];
  aliases: EndpointAliasCheck[];
}

function valueAt(raw: unknown, segments: Segment[]): unknown {
  let value = raw;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

function stringAt(raw: unknown, segments: Segment[]): string | undefined {
  const value = valueAt(raw, segments);
  return typeof value === 'string' ? value : undefined;
}

function checkMeaning(raw: unknown, referenced: Set<string>, baseDir: string, report: Reporter): Checked {
  const checked: Checked = { sizes: new Map(), retryBackoff: new Map(), paths: new Map(), references: [], aliases: [] };
  const usable = (segments: Segment[]): boolean => valueAt(raw, segments) !== undefined && !report.hasFailed(segments);

  for (const side of ['source', 'destination'] as const) {
    checkHop(raw, side, referenced, report, usable);
  }
  checkSamePlace(raw, report, usable, checked);

  for (const field of ['maxBatchBytes', 'maxUploadBatchBytes', 'partSize'] as const) {
    const segments = ['transfer', field];
    if (!usable(segments)) continue;
    const bytes = convert(report, segments, () => parseSize(valueAt(raw, segments) as string | number));
    if (bytes === undefined) continue;
    if (field === 'partSize') {
      if (bytes % MIB !== 0 || bytes < 5 * MIB || bytes > 5 * 1024 * MIB) {
        report.at('error', segments, 'must be a whole number of MiB from 5MiB to 5GiB', 'S3 parts are 5 MiB to 5 GiB, and s5cmd takes the part size in MiB');
        continue;
      }
    } else if (bytes <= 0) {
      report.at('error', segments, 'must be greater than 0', 'a plan with a budget of 0 bytes would never move anything');
      continue;
    }
    checked.sizes.set(field, bytes);
  }
  if (usable(['staging', 'reserve'])) {
    checked.reserve = convert(report, ['staging', 'reserve'], () => parsePercentOrSize(valueAt(raw, ['staging', 'reserve']) as string | number));
  }
  if (usable(['watch', 'interval'])) {
    const ms = convert(report, ['watch', 'interval'], () => parseDuration(valueAt(raw, ['watch', 'interval']) as string));
    if (ms !== undefined && ms <= 0) report.at('error', ['watch', 'interval'], 'must be longer than 0', 'e.g. 30s');
    else checked.intervalMs = ms;
  }
  if (usable(['transfer', 'stallTimeout'])) {
    const ms = convert(report, ['transfer', 'stallTimeout'], () => parseDuration(valueAt(raw, ['transfer', 'stallTimeout']) as string));
    if (ms !== undefined && ms < 1000) report.at('error', ['transfer', 'stallTimeout'], 'must be at least 1s', 'e.g. 2m; a link can pause for seconds without being dead');
    else checked.stallTimeoutMs = ms;
  }
  for (const field of ['base', 'max'] as const) {
    const segments = ['transfer', 'retryBackoff', field];
    if (!usable(segments)) continue;
    const ms = convert(report, segments, () => parseDuration(valueAt(raw, segments) as string));
    if (ms !== undefined && ms <= 0) report.at('error', segments, 'must be longer than 0', field === 'base' ? 'e.g. 30s, or leave it out to wait one watch.interval' : 'e.g. 6h');
    else if (ms !== undefined) checked.retryBackoff.set(field, ms);
  }

  for (const list of ['include', 'exclude'] as const) {
    const globs = valueAt(raw, ['transfer', list]);
    if (!Array.isArray(globs)) continue;
    globs.forEach((glob, index) => {
      const segments = ['transfer', list, index];
      if (typeof glob === 'string' && usable(segments)) convert(report, segments, () => compileGlob(glob));
    });
  }

  const volumes = valueAt(raw, ['staging', 'volumes']);
  if (Array.isArray(volumes) && !report.hasFailed(['staging', 'volumes'])) {
    volumes.forEach((_entry, index) => localPath(raw, ['staging', 'volumes', index], 'volume', baseDir, report, checked));
  }
  for (const side of ['source', 'destination'] as const) {
    // On http:// the tls settings have no effect (a warning says so): a bundle that is not
    // there cannot be an error then.
    if (stringAt(raw, [side, 'endpoint'])?.toLowerCase().startsWith('http:')) continue;
    localPath(raw, [side, 'tls', 'caBundle'], 'caBundle', baseDir, report, checked);
  }
  if (valueAt(raw, ['stateDir']) === undefined) {
    const path = resolvePosix(baseDir, DEFAULTS.stateDir);
    checked.paths.set('stateDir', path);
    checked.references.push({ kind: 'stateDir', path, written: `${DEFAULTS.stateDir} (the default)`, field: 'stateDir', line: 1, column: 1 });
  } else {
    localPath(raw, ['stateDir'], 'stateDir', baseDir, report, checked);
  }
  return checked;
}

function checkHop(raw: unknown, side: 'source' | 'destination', referenced: Set<string>, report: Reporter, usable: (s: Segment[]) => boolean): void {
  const prefix = stringAt(raw, [side, 'prefix']);
  if (prefix !== undefined && usable([side, 'prefix'])) {
    if (prefix.startsWith('/')) {
      report.at('error', [side, 'prefix'], 'must not start with `/`', `write ${JSON.stringify(withTrailingSlash(prefix.replace(/^\/+/, '')))}`);
    } else if (prefix !== '' && !prefix.endsWith('/')) {
      report.at('error', [side, 'prefix'], 'must end with `/` (or be "" for the whole bucket)', `write ${JSON.stringify(`${prefix}/`)}`);
    }
  }
  for (const field of ['endpoint', 'proxy'] as const) {
    const url = stringAt(raw, [side, field]);
    if (url === undefined || !usable([side, field])) continue;
    const parsed = URL.parse(url);
    if (parsed === null || parsed.hostname === '') {
      report.at('error', [side, field], 'is not a valid URL', 'e.g. https://192.0.2.10:8443');
    } else if (field === 'endpoint' && (parsed.pathname !== '/' || parsed.search !== '' || parsed.username !== '')) {
      report.at('error', [side, field], 'an endpoint is a scheme, host and port only', `write ${parsed.protocol}//${parsed.host}; the bucket and prefix have their own fields`);
    }
  }
  const endpoint = stringAt(raw, [side, 'endpoint']);
  const tlsVerify = valueAt(raw, [side, 'tls', 'verify']);
  if (tlsVerify === false) {
    report.at('warning', [side, 'tls', 'verify'], 'TLS certificates are not verified on this hop', 'prefer tls.caBundle with the server certificate (Snowball Edge: snowballEdge get-certificate)');
  }
  if (endpoint?.toLowerCase().startsWith('http:') && valueAt(raw, [side, 'tls']) !== undefined) {
    report.at('warning', [side, 'tls'], 'tls settings have no effect on an http:// endpoint', 'they are ignored, tls.caBundle included; use https:// to have them checked');
  }

  const region = stringAt(raw, [side, 'region']);
  if (region === SNOW && valueAt(raw, [side, 'listApi']) === 'v2') {
    report.at('warning', [side, 'listApi'], 'a Snowball Edge cuts ListObjectsV2 listings at 1,000 keys', 'use listApi: v1 (the default for region snow)');
  }
  const maxConnections = valueAt(raw, [side, 'maxConnections']);
  if (region === SNOW && typeof maxConnections === 'number' && maxConnections > SNOW_CONNECTION_LIMIT) {
    report.at('warning', [side, 'maxConnections'], `a Snowball Edge drops connections beyond ${SNOW_CONNECTION_LIMIT}`, `keep it at ${SNOW_CONNECTION_LIMIT} or below`);
  }

  const inline = (['accessKeyId', 'secretAccessKey', 'sessionToken'] as const).filter(
    (field) => stringAt(raw, [side, 'credentials', field]) !== undefined && !referenced.has(fieldPath([side, 'credentials', field])),
  );
  const first = inline[0];
  if (first !== undefined) {
    const variable = `DUALSYNC_${side.toUpperCase()}_${first.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    report.at(
      'warning',
      [side, 'credentials', first],
      `inline secret${inline.length > 1 ? 's' : ''} in the config file (${inline.join(', ')})`,
      `write \${${variable}} and set that variable, or use a profile, so the secret stays out of this file`,
    );
  }
}

/**
 * Source and destination in the same bucket on the same server with nested prefixes: every run
 * would copy dualsync's own output again, one level deeper. Decided here from the text (AWS
 * endpoints of one partition, one host and port, loopback names); two host names on one port may
 * still be one server, which only DNS can tell, so that pair goes to load.ts as an alias check.
 */
function checkSamePlace(raw: unknown, report: Reporter, usable: (s: Segment[]) => boolean, checked: Checked): void {
  if (!usable(['source', 'bucket']) || !usable(['destination', 'bucket'])) return;
  if (!usable(['source', 'region']) || !usable(['destination', 'region'])) return;
  const hop = (side: 'source' | 'destination') => {
    const endpoint = stringAt(raw, [side, 'endpoint']);
    return {
      bucket: stringAt(raw, [side, 'bucket']) ?? '',
      prefix: stringAt(raw, [side, 'prefix']) ?? '',
      endpoint,
      place: endpointPlace(endpoint, stringAt(raw, [side, 'region']) ?? ''),
    };
  };
  const source = hop('source');
  const destination = hop('destination');
  if (source.bucket !== destination.bucket || !nestedPrefixes(source.prefix, destination.prefix)) return;
  if (source.place === undefined || destination.place === undefined) return;
  const described = samePlaceMessage(source, destination);
  if (samePlaceByText(source.place, destination.place)) {
    report.at('error', ['destination', 'bucket'], described.message('are the same place'), described.hint);
    return;
  }
  if (source.place.kind === 'host' && destination.place.kind === 'host' && source.place.port === destination.place.port) {
    checked.aliases.push({
      field: 'destination.bucket',
      ...report.valuePosition(['destination', 'bucket']),
      hosts: [source.place.host, destination.place.host],
      message: described.message('are the same place: both host names resolve to one address'),
      hint: described.hint,
    });
  }
}

/** The words of a same-place refusal: both hops, every field involved, and what to do. */
function samePlaceMessage(
  source: { bucket: string; prefix: string; endpoint: string | undefined },
  destination: { bucket: string; prefix: string; endpoint: string | undefined },
): { message: (why: string) => string; hint: string } {
  const where = (side: string, hop: typeof source) =>
    `s3://${hop.bucket}/${hop.prefix} (${side}.bucket, ${side}.prefix ${JSON.stringify(hop.prefix)}, ${hop.endpoint === undefined ? `no ${side}.endpoint: AWS` : `${side}.endpoint ${normalizedEndpoint(hop.endpoint)}`})`;
  return {
    message: (why) => `source and destination ${why}: ${where('source', source)} and ${where('destination', destination)}, and one prefix contains the other`,
    hint: 'dualsync would copy its own output again on every run; use another destination bucket, or a source.prefix and destination.prefix that do not contain each other (e.g. "data/" and "archive/")',
  };
}

function normalizedEndpoint(endpoint: string): string {
  const parsed = URL.parse(endpoint);
  return parsed === null ? endpoint : `${parsed.protocol}//${parsed.host}`;
}

function withTrailingSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function convert<T>(report: Reporter, segments: Segment[], conversion: () => T): T | undefined {
  try {
    return conversion();
  } catch (error) {
    if (!isDualsyncError(error)) throw error;
    report.at('error', segments, error.message.replace(/^invalid \w+ /, 'invalid value '), error.hint);
    return undefined;
  }
}

function localPath(raw: unknown, segments: Segment[], kind: PathReference['kind'], baseDir: string, report: Reporter, checked: Checked): void {
  const written = stringAt(raw, segments);
  if (written === undefined || report.hasFailed(segments)) return;
  if (written.startsWith('~')) {
    report.at('error', segments, '`~` is not expanded in paths', 'write the full path, e.g. /home/ops/staging');
    return;
  }
  const path = resolvePosix(baseDir, written);
  checked.paths.set(fieldPath(segments), path);
  checked.references.push({ kind, path, written, field: fieldPath(segments), ...report.valuePosition(segments) });
}

/** `baseDir` + `path` with `.` and `..` folded, by string logic only (POSIX paths). */
export function resolvePosix(baseDir: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${baseDir}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

// ---------------------------------------------------------------------------------------------
// Defaults

function buildConfig(raw: RawConfig, checked: Checked, referenced: Set<string>, file: string, unset: UnsetVariable[]): Config {
  const transfer = raw.transfer ?? {};
  const sizeOf = (field: string, fallback: string): number => checked.sizes.get(field) ?? parseSize(fallback);
  return {
    version: 1,
    file,
    source: buildHop(raw.source, 'source', checked, referenced, unset),
    destination: buildHop(raw.destination, 'destination', checked, referenced, unset),
    staging: {
      volumes: raw.staging.volumes.map((_, index) => checked.paths.get(`staging.volumes[${index}]`) ?? ''),
      reserve: checked.reserve ?? parsePercentOrSize(DEFAULTS.reserve),
    },
    stateDir: checked.paths.get('stateDir') ?? '',
    transfer: {
      maxBatchBytes: sizeOf('maxBatchBytes', DEFAULTS.maxBatchBytes),
      maxUploadBatchBytes: sizeOf('maxUploadBatchBytes', DEFAULTS.maxUploadBatchBytes),
      workers: transfer.workers ?? DEFAULTS.workers,
      concurrency: transfer.concurrency ?? DEFAULTS.concurrency,
      partSizeBytes: sizeOf('partSize', DEFAULTS.partSize),
      verify: transfer.verify ?? DEFAULTS.verify,
      adopt: transfer.adopt ?? DEFAULTS.adopt,
      purgeAfterUpload: transfer.purgeAfterUpload ?? DEFAULTS.purgeAfterUpload,
      stallTimeoutMs: checked.stallTimeoutMs ?? parseDuration(DEFAULTS.stallTimeout),
      include: transfer.include ?? [...DEFAULTS.include],
      exclude: transfer.exclude ?? [...DEFAULTS.exclude],
      retryBackoff: {
        ...(checked.retryBackoff.has('base') ? { baseMs: checked.retryBackoff.get('base') } : {}),
        maxMs: checked.retryBackoff.get('max') ?? parseDuration(DEFAULTS.retryBackoffMax),
      },
    },
    watch: { intervalMs: checked.intervalMs ?? parseDuration(DEFAULTS.watchInterval) },
  };
}

function buildHop(raw: RawHop, side: 'source' | 'destination', checked: Checked, referenced: Set<string>, unset: UnsetVariable[]): HopConfig {
  const snow = raw.region === SNOW;
  const endpoint = raw.endpoint?.replace(/\/+$/, '');
  const caBundle = checked.paths.get(`${side}.tls.caBundle`);
  const maxConnections = raw.maxConnections ?? (snow ? DEFAULTS.snowMaxConnections : undefined);
  return {
    bucket: raw.bucket,
    prefix: raw.prefix ?? DEFAULTS.prefix,
    region: raw.region,
    ...(endpoint === undefined ? {} : { endpoint }),
    addressing: raw.addressing ?? (endpoint === undefined ? 'virtual' : 'path'),
    tls: { verify: raw.tls?.verify ?? DEFAULTS.tlsVerify, ...(caBundle === undefined ? {} : { caBundle }) },
    ...(raw.proxy === undefined ? {} : { proxy: raw.proxy }),
    listApi: raw.listApi ?? (snow ? 'v1' : 'v2'),
    ...(maxConnections === undefined ? {} : { maxConnections }),
    credentials: buildCredentials(raw.credentials, side, referenced, unset.filter((u) => u.field.startsWith(`${side}.`))),
  };
}

function buildCredentials(raw: RawHop['credentials'], side: string, referenced: Set<string>, unset: UnsetVariable[]): Credentials {
  if (raw === undefined) return { kind: 'default' };
  if (raw.profile !== undefined) return { kind: 'profile', profile: raw.profile };
  const inline = (['accessKeyId', 'secretAccessKey', 'sessionToken'] as const).some(
    (field) => raw[field] !== undefined && !referenced.has(`${side}.credentials.${field}`),
  );
  return {
    kind: 'static',
    accessKeyId: raw.accessKeyId ?? '',
    secretAccessKey: raw.secretAccessKey ?? '',
    ...(raw.sessionToken === undefined ? {} : { sessionToken: raw.sessionToken }),
    inline,
    ...(unset.length === 0 ? {} : { unset }),
  };
}
