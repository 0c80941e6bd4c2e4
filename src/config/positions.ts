/**
 * Where things are in sync.yaml: field paths as segments, the YAML node at a path, and the
 * diagnostics list that places each problem at its file:line:column. Also YAML's own syntax
 * problems, in an operator's words. Pure.
 */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Pair } from 'yaml';

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

/** A path into the config: field names, and list indexes as numbers. */
export type Segment = string | number;
export type Position = { line: number; column: number };

const YAML_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  MISSING_CHAR: 'a quote or bracket opened above is not closed',
  DUPLICATE_KEY: 'a field may appear once; remove one of the two',
};

/**
 * YAML's errors and warnings as diagnostics, at their line. An unquoted `${VAR}` inside a flow
 * mapping or list (`{ accessKeyId: ${KEY} }`) makes YAML read its braces as structure, and one
 * such slip becomes a page of token errors: when the text has errors and such a slip, the slip
 * is reported instead, once per line, with the quoting that fixes it.
 */
export function reportYamlProblems(doc: Document, text: string, report: Reporter): void {
  const slips = doc.errors.length === 0 ? [] : unquotedReferencesInFlow(text);
  for (const slip of slips) {
    report.add({
      severity: 'error',
      ...report.offsetPosition(slip.offset),
      path: '(yaml)',
      message: `${slip.reference} is not quoted inside a flow mapping or list ({ ... } or [ ... ]), where YAML reads { and } as structure`,
      hint: `quote it: "${slip.scalar}" (and any other \${...} written inside { } or [ ])`,
    });
  }
  if (slips.length > 0) return;
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
}

/** Where a plain scalar of a flow collection ends. */
const FLOW_SCALAR_END = /[,\]}\n]/;

/**
 * Each line's first `${` outside quotes and comments inside `{ }` or `[ ]`, with its reference
 * (`${KEY}`) and the plain scalar it begins (`${KEY}/a`). A scan of the text, not a parse: YAML
 * itself could not read it.
 */
function unquotedReferencesInFlow(text: string): { offset: number; reference: string; scalar: string }[] {
  const found: { offset: number; reference: string; scalar: string }[] = [];
  let depth = 0;
  let quote: string | undefined;
  let lastLine = -1;
  let line = 0;
  // Where a quoted scalar may start: at the start of a line or after an indicator.
  let scalarMayStart = true;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] as string;
    if (char === '\n') line += 1;
    if (quote !== undefined) {
      if (quote === '"' && char === '\\') i += 1;
      else if (char === quote && quote === "'" && text[i + 1] === "'") i += 1;
      else if (char === quote) quote = undefined;
      continue;
    }
    if (char === '#' && (i === 0 || /\s/.test(text[i - 1] as string))) {
      const end = text.indexOf('\n', i);
      if (end === -1) break;
      i = end - 1;
      continue;
    }
    if ((char === '"' || char === "'") && scalarMayStart) {
      quote = char;
      continue;
    }
    if (char === '$' && text[i + 1] === '{' && depth > 0) {
      const close = text.indexOf('}', i);
      const referenceEnd = close === -1 ? i + 2 : close + 1;
      const rest = text.slice(referenceEnd);
      const scalarEnd = referenceEnd + (rest.search(FLOW_SCALAR_END) === -1 ? rest.length : rest.search(FLOW_SCALAR_END));
      if (line !== lastLine) found.push({ offset: i, reference: text.slice(i, referenceEnd), scalar: text.slice(i, scalarEnd).trim() });
      lastLine = line;
      i = referenceEnd - 1;
      scalarMayStart = false;
      continue;
    }
    if (char === '{' || char === '[') depth += 1;
    else if ((char === '}' || char === ']') && depth > 0) depth -= 1;
    if (!/\s/.test(char)) scalarMayStart = '{[,:-?'.includes(char);
    else if (char === '\n') scalarMayStart = true;
  }
  return found;
}

export class Reporter {
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
export function fieldPath(segments: Segment[]): string {
  let path = '';
  for (const segment of segments) {
    path += typeof segment === 'number' ? `[${segment}]` : path === '' ? segment : `.${segment}`;
  }
  return path === '' ? '(root)' : path;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}

/** The value at `segments` in a parsed (plain JavaScript) config, or undefined. */
export function valueAt(raw: unknown, segments: Segment[]): unknown {
  let value = raw;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

export function stringAt(raw: unknown, segments: Segment[]): string | undefined {
  const value = valueAt(raw, segments);
  return typeof value === 'string' ? value : undefined;
}
