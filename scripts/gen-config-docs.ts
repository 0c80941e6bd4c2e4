/**
 * Generates docs/config.md from schemas/sync.schema.json, so that the reference never drifts
 * from what validation enforces. Run: node scripts/gen-config-docs.ts
 */
import { writeFile } from 'node:fs/promises';
import schema from '../schemas/sync.schema.json' with { type: 'json' };

export interface SchemaDoc {
  $ref?: string;
  title?: string;
  description?: string;
  type?: string;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  required?: string[];
  properties?: Record<string, SchemaDoc>;
  items?: SchemaDoc;
  definitions?: Record<string, SchemaDoc>;
}

/** Shared definitions rendered as a section of their own; a row links to it. */
const SECTIONS: Record<string, { title: string; anchor: string }> = {
  hop: { title: 'Hop: `source` and `destination`', anchor: 'hop-source-and-destination' },
  credentials: { title: 'Credentials: `source.credentials` and `destination.credentials`', anchor: 'credentials-sourcecredentials-and-destinationcredentials' },
};
/** Shared value formats, described once under "Value formats". */
const FORMATS: Record<string, string> = {
  size: 'size',
  reserve: 'percentage or size',
  duration: 'duration',
  url: 'URL',
  bucketName: 'bucket name',
  glob: 'glob',
};

/** The Markdown reference of every field in `root` (the sync.yaml JSON Schema). */
export function renderConfigDocs(root: SchemaDoc): string {
  const definitions = root.definitions ?? {};
  const out: string[] = [
    '# sync.yaml reference',
    '',
    '<!-- Generated from schemas/sync.schema.json by scripts/gen-config-docs.ts; edit the schema, then run `node scripts/gen-config-docs.ts`. -->',
    '',
    text(root.description),
    '',
    'Put `# yaml-language-server: $schema=./schemas/sync.schema.json` on the first line and editors with',
    'yaml-language-server complete and check every field. `dualsync validate` checks the file the same way,',
    'plus what a schema cannot say (volumes that exist, `${VAR}` references that are set, source and',
    'destination that differ) and reports every problem at once as `file:line:col  field: message`.',
    '',
    '- **Secrets**: write `${VAR}` in any string value and it is replaced by the environment variable `VAR`',
    '  (an unset variable is an error). Inline access keys are accepted with a warning.',
    '- **Paths** (`stateDir`, `tls.caBundle`, `staging.volumes`) are relative to the config file\'s folder.',
    '',
  ];

  const topLevel = rows(root, '', definitions);
  out.push('## Top level', '', ...table(topLevel.rows), '');
  for (const [name, node] of topLevel.nested) {
    out.push(`## \`${name}\``, '', text(node.description), '', ...table(rows(node, '', definitions).rows), '');
  }
  for (const [name, section] of Object.entries(SECTIONS)) {
    const node = definitions[name];
    if (!node) continue;
    out.push(`## ${section.title}`, '', text(node.description), '', ...table(rows(node, '', definitions).rows), '');
  }
  out.push('## Value formats', '');
  for (const [name, label] of Object.entries(FORMATS)) {
    const node = definitions[name];
    if (node) out.push(`- <a id="format-${name}"></a>**${label}**: ${text(node.description)}`);
  }
  out.push('');
  return out.join('\n');
}

type Row = { field: string; type: string; default: string; description: string };

/**
 * The rows of an object's fields. Plain nested objects (`tls`) become dotted rows; top-level
 * sections (`staging`, `transfer`, `watch`) are returned in `nested` to get their own heading.
 */
function rows(node: SchemaDoc, prefix: string, definitions: Record<string, SchemaDoc>): { rows: Row[]; nested: [string, SchemaDoc][] } {
  const result: Row[] = [];
  const nested: [string, SchemaDoc][] = [];
  const required = new Set(node.required ?? []);
  for (const [name, property] of Object.entries(node.properties ?? {})) {
    const field = `${prefix}${name}`;
    const isPlainObject = property.type === 'object' && property.$ref === undefined;
    if (isPlainObject && prefix === '' && node.definitions !== undefined) {
      nested.push([name, property]);
      result.push({ field, type: `mapping, see [\`${name}\`](#${name})`, default: required.has(name) ? 'required' : '', description: text(property.description) });
      continue;
    }
    result.push({ field, type: typeOf(property, definitions), default: required.has(name) ? 'required' : defaultOf(property), description: text(property.description) });
    if (isPlainObject) result.push(...rows(property, `${field}.`, definitions).rows);
  }
  return { rows: result, nested };
}

function typeOf(node: SchemaDoc, definitions: Record<string, SchemaDoc>): string {
  const ref = node.$ref?.replace('#/definitions/', '');
  if (ref !== undefined) {
    const section = SECTIONS[ref];
    if (section) return `mapping, see [${ref}](#${section.anchor})`;
    return `[${FORMATS[ref] ?? ref}](#format-${ref})`;
  }
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((value) => `\`${String(value)}\``).join(' or ');
  if (node.type === 'integer') {
    if (node.minimum !== undefined && node.maximum !== undefined) return `integer, ${node.minimum} to ${node.maximum}`;
    if (node.minimum !== undefined) return `integer, at least ${node.minimum}`;
    return 'integer';
  }
  if (node.type === 'array') {
    const item = node.items ? typeOf(node.items, definitions) : 'value';
    const plural = item.startsWith('[') ? item.replace(/^\[([^\]]+)\]/, '[$1s]') : `${item}s`;
    return `${node.minItems ? 'non-empty ' : ''}list of ${plural}`;
  }
  if (node.type === 'object') return 'mapping';
  return node.type ?? 'value';
}

function defaultOf(node: SchemaDoc): string {
  if (node.default === undefined) return '';
  // An empty string would render as empty backticks; show it as YAML writes it.
  return `\`${typeof node.default === 'string' && node.default !== '' ? node.default : JSON.stringify(node.default)}\``;
}

function table(items: Row[]): string[] {
  return [
    '| Field | Type | Default | Description |',
    '|---|---|---|---|',
    ...items.map((row) => `| \`${row.field}\` | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.description)} |`),
  ];
}

function cell(value: string): string {
  return value.replace(/\|/g, '\\|');
}

function text(value: string | undefined): string {
  return (value ?? '').replace(/\s+/g, ' ').trim();
}

if (import.meta.main) {
  const target = new URL('../docs/config.md', import.meta.url);
  await writeFile(target, renderConfigDocs(schema as SchemaDoc));
  process.stdout.write(`wrote ${target.pathname}\n`);
}
