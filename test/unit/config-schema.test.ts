import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.ts';
import { schemaFieldPaths, YAML_FIELD_NAMES } from '../../src/config/schema.ts';
import type { Config } from '../../src/model/config.ts';

/** sync.yaml with every field set; `static` and `profile` are the two credential forms. */
function everyField(sourceCredentials: string, destinationCredentials: string): string {
  const hop = (bucket: string, credentials: string) => `  bucket: ${bucket}
  prefix: data/
  region: snow
  useArnRegion: false
  endpoint: https://192.0.2.10:8443
  addressing: path
  tls: { verify: true, caBundle: ./device.pem }
  proxy: http://proxy.example:3128
  listApi: v1
  maxConnections: 400
  bandwidth: "Mon-Fri,08:00,2MiB/s 18:00,off"
  credentials: ${credentials}
`;
  return `version: 1
source:
${hop('field-data', sourceCredentials)}destination:
${hop('archive', destinationCredentials)}staging:
  volumes: [./volume-a]
  reserve: 10GiB
stateDir: ./state
transfer:
  maxBatchBytes: 1TiB
  maxUploadBatchBytes: 2TiB
  workers: 80
  concurrency: 5
  partSize: 64MiB
  verify: etag
  adopt: transfer
  purgeAfterUpload: false
  stallTimeout: 5m
  include: ["**/*.csv"]
  exclude: ["tmp/"]
  retryBackoff: { base: 1m, max: 2h }
watch:
  interval: 1m
`;
}

const STATIC = '{ accessKeyId: AKID, secretAccessKey: secret, sessionToken: token }';
const PROFILE = '{ profile: archive-writer }';

function build(text: string): Config {
  const { config, diagnostics } = parseConfig(text, 'sync.yaml', {}, '/srv/site7');
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return config!;
}

function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, name) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[name] : undefined), value);
}

/** Leaf paths of a Config: a list, or a value of a schema field without fields of its own (a reserve), is one leaf. */
function leaves(value: unknown, modelPaths: Set<string>, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  if (modelPaths.has(prefix) && ![...modelPaths].some((path) => path.startsWith(`${prefix}.`))) return [prefix];
  return Object.entries(value).flatMap(([name, inner]) => leaves(inner, modelPaths, prefix === '' ? name : `${prefix}.${name}`));
}

/** Model fields no sync.yaml field names: where the config came from and what the builder derives. */
const MODEL_ONLY = ['file', 'source.credentials.kind', 'source.credentials.inline', 'destination.credentials.kind', 'destination.credentials.inline'];

describe('the schema and the Config model (src/model/config.ts) describe the same fields', () => {
  const configs = [build(everyField(STATIC, PROFILE)), build(everyField(PROFILE, STATIC))];
  const fields = schemaFieldPaths();

  it('every schema field reaches the model, under its name there (sizes in Bytes, durations in Ms)', () => {
    expect(fields.length).toBeGreaterThan(40);
    for (const [yaml, model] of fields) {
      expect(configs.some((config) => at(config, model) !== undefined), `${yaml} -> Config.${model}`).toBe(true);
    }
  });

  it('every model field comes from a schema field, or is one the builder derives', () => {
    const modelPaths = new Set(fields.map(([, model]) => model));
    for (const config of configs) {
      for (const leaf of leaves(config, modelPaths)) expect(modelPaths.has(leaf) || MODEL_ONLY.includes(leaf), leaf).toBe(true);
    }
  });

  it('the names saved plans use for changed fields are the sync.yaml names', () => {
    expect(YAML_FIELD_NAMES).toMatchObject({ partSizeBytes: 'partSize', stallTimeoutMs: 'stallTimeout', intervalMs: 'interval' });
    expect(YAML_FIELD_NAMES).not.toHaveProperty('maxBatchBytes');
    expect(YAML_FIELD_NAMES).not.toHaveProperty('workers');
  });
});
