/**
 * sync.yaml text -> Config, or every problem with its file:line:column. Pure: the environment and
 * the config file's folder come in as arguments, and checks that need the disk (volumes, CA bundle)
 * are handed to load.ts as references.
 *
 * The steps, one module each: YAML and positions (positions.ts), `${VAR}` references
 * (env-references.ts), the schema check in an operator's words (schema.ts, schema-errors.ts),
 * what the schema cannot say (meaning.ts), and the Config with its defaults (build.ts).
 */
import { LineCounter, parseDocument } from 'yaml';
import { assert } from '../errors.ts';
import type { Config } from '../model/config.ts';
import { buildConfig, type RawConfig } from './build.ts';
import { resolveEnvReferences } from './env-references.ts';
import { checkMeaning, type EndpointAliasCheck, type PathReference } from './meaning.ts';
import { reportYamlProblems, Reporter, type Diagnostic } from './positions.ts';
import { collapseErrors, reportSchemaError } from './schema-errors.ts';
import { validateSchema } from './schema.ts';

export type { Diagnostic } from './positions.ts';
export type { EndpointAliasCheck, PathReference } from './meaning.ts';

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

  reportYamlProblems(doc, text, report);
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
