/**
 * schemas/sync.schema.json, the one description of sync.yaml's fields, and what the code reads
 * from it instead of repeating it: the validator, the node at a field path, every known field
 * path, the defaults, and the name each field has in the Config model. Pure.
 */
import type { ValidateFunction } from 'ajv';
import schemaJson from '../../schemas/sync.schema.json' with { type: 'json' };
import { assert } from '../errors.ts';
import type { Segment } from './positions.ts';
import { validate as generatedValidator } from './schema-validator.generated.ts';

export interface SchemaNode {
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

/**
 * Ajv's validator of the schema; its `errors` go to schema-errors.ts. Compiled ahead of time by
 * `npm run config:validator` (scripts/gen-config-validator.ts): compiling it here cost every
 * command ~85 ms of CPU at start.
 */
export const validateSchema = generatedValidator as unknown as ValidateFunction;

/** The region of a Snowball Edge hop, which changes that hop's defaults. */
export const SNOW = 'snow';

/** The definition a `$ref` names (`#/definitions/size` -> `size`). */
function definitionName(ref: string): string {
  return ref.replace('#/definitions/', '');
}

/** The node itself, or the definition it refers to (repeatedly), with that definition's name. */
function deref(node: SchemaNode | undefined): { node?: SchemaNode; definition?: string } {
  let definition: string | undefined;
  while (node?.$ref) {
    definition = definitionName(node.$ref);
    node = configSchema.definitions?.[definition];
  }
  return { node, definition };
}

/** The schema node that describes the value at `segments`, following $ref. */
export function schemaAt(segments: Segment[]): { node?: SchemaNode; definition?: string } {
  let node: SchemaNode | undefined = configSchema;
  for (const segment of segments) {
    const container: SchemaNode | undefined = deref(node).node;
    node = typeof segment === 'number' ? container?.items : container?.properties?.[segment];
  }
  return deref(node);
}

/** The property node at `segments` as written (its `default` and `description` sit beside a `$ref`). */
function propertyAt(segments: string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = configSchema;
  for (const segment of segments) node = deref(node).node?.properties?.[segment];
  return node;
}

/** Every field path the schema knows, for "`workers` belongs under `transfer`" hints. */
function knownFieldPaths(): string[] {
  const paths: string[] = [];
  const walk = (segments: string[], node: SchemaNode | undefined, depth: number): void => {
    for (const [name, child] of Object.entries(deref(node).node?.properties ?? {})) {
      paths.push([...segments, name].join('.'));
      if (depth < 4) walk([...segments, name], child, depth + 1);
    }
  };
  walk([], configSchema, 0);
  return paths;
}
export const KNOWN_FIELDS = knownFieldPaths();

// ---------------------------------------------------------------------------------------------
// Defaults, read from the schema's `default`s

function defaultAt(segments: string[]): unknown {
  const value = propertyAt(segments)?.default;
  assert(value !== undefined, `schemas/sync.schema.json has no default for ${segments.join('.')}`);
  return value;
}

function stringDefault(segments: string[]): string {
  const value = defaultAt(segments);
  assert(typeof value === 'string', `the schema's default of ${segments.join('.')} is not a string`);
  return value;
}

function numberDefault(segments: string[]): number {
  const value = defaultAt(segments);
  assert(typeof value === 'number', `the schema's default of ${segments.join('.')} is not a number`);
  return value;
}

function booleanDefault(segments: string[]): boolean {
  const value = defaultAt(segments);
  assert(typeof value === 'boolean', `the schema's default of ${segments.join('.')} is not true or false`);
  return value;
}

function enumDefault<T extends string>(segments: string[]): T {
  const value = stringDefault(segments);
  assert(propertyAt(segments)?.enum?.includes(value) === true, `the schema's default of ${segments.join('.')} is not one of its values`);
  return value as T;
}

function stringListDefault(segments: string[]): readonly string[] {
  const value = defaultAt(segments);
  assert(Array.isArray(value) && value.every((item) => typeof item === 'string'), `the schema's default of ${segments.join('.')} is not a list of strings`);
  return value;
}

/** The defaults the config builder applies, each read from the schema that documents it. */
export const DEFAULTS = {
  prefix: stringDefault(['source', 'prefix']),
  tlsVerify: booleanDefault(['source', 'tls', 'verify']),
  bandwidth: stringDefault(['source', 'bandwidth']),
  // Depends on the region, so the schema says it in words (hop.maxConnections); a test keeps
  // the two in step.
  snowMaxConnections: 500,
  reserve: stringDefault(['staging', 'reserve']),
  stateDir: stringDefault(['stateDir']),
  maxBatchBytes: stringDefault(['transfer', 'maxBatchBytes']),
  maxUploadBatchBytes: stringDefault(['transfer', 'maxUploadBatchBytes']),
  workers: numberDefault(['transfer', 'workers']),
  concurrency: numberDefault(['transfer', 'concurrency']),
  partSize: stringDefault(['transfer', 'partSize']),
  verify: enumDefault<'size' | 'etag'>(['transfer', 'verify']),
  adopt: enumDefault<'content' | 'transfer' | 'size'>(['transfer', 'adopt']),
  purgeAfterUpload: booleanDefault(['transfer', 'purgeAfterUpload']),
  include: stringListDefault(['transfer', 'include']),
  exclude: stringListDefault(['transfer', 'exclude']),
  retryBackoffMax: stringDefault(['transfer', 'retryBackoff', 'max']),
  watchInterval: stringDefault(['watch', 'interval']),
  stallTimeout: stringDefault(['transfer', 'stallTimeout']),
} as const;

// ---------------------------------------------------------------------------------------------
// Field names in the Config model

/**
 * The name a sync.yaml field has in the Config model (src/model/config.ts): a size is held in
 * bytes and named so (`partSize` -> `partSizeBytes`), a duration in milliseconds
 * (`stallTimeout` -> `stallTimeoutMs`); every other field keeps its name.
 */
export function modelFieldName(name: string, node: SchemaNode): string {
  const format = node.$ref === undefined ? undefined : definitionName(node.$ref);
  if (format === 'size' && !name.endsWith('Bytes')) return `${name}Bytes`;
  if (format === 'duration') return `${name}Ms`;
  return name;
}

/** Every schema field as [path in sync.yaml, path in the Config model], hop definitions followed. */
export function schemaFieldPaths(): [string, string][] {
  const found: [string, string][] = [];
  const walk = (yaml: string[], model: string[], node: SchemaNode | undefined): void => {
    for (const [name, child] of Object.entries(deref(node).node?.properties ?? {})) {
      const modelName = modelFieldName(name, child);
      found.push([[...yaml, name].join('.'), [...model, modelName].join('.')]);
      walk([...yaml, name], [...model, modelName], child);
    }
  };
  walk([], [], configSchema);
  return found;
}

/**
 * Config model field names that differ from their name in sync.yaml (`partSizeBytes` ->
 * `partSize`), so that a stale saved plan names the field as the operator wrote it.
 */
export const YAML_FIELD_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  schemaFieldPaths()
    .map(([yaml, model]) => [model.split('.').pop() ?? '', yaml.split('.').pop() ?? ''])
    .filter(([model, yaml]) => model !== yaml),
);
