/**
 * `${VAR}` references in string values, replaced by the environment's values in the YAML
 * document before the schema sees it. Pure: the environment comes in as an argument.
 */
import { isMap, isScalar, isSeq, type Document, type Pair } from 'yaml';
import type { UnsetVariable } from '../model/config.ts';
import { fieldPath, type Reporter, type Segment } from './positions.ts';

const REFERENCE = /\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${VAR}` in every string value with the variable's value, in place. Returns the field
 * paths that held a reference, so that secrets written as references are not warned about.
 */
export function resolveEnvReferences(
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
