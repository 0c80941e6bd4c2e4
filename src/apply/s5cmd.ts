/**
 * Finding s5cmd and telling it about a hop: its global flags and its environment.
 * Credentials reach s5cmd through its environment only, never its argument list (invariant 5),
 * because arguments are visible to every user of the machine in `ps`.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { assert, describeError, userError } from '../errors.ts';
import type { HopConfig } from '../model/config.ts';
import { requireCredentials } from '../config/credentials.ts';
import { releaseFolder } from '../sea.ts';
import { isOutpostsBucket } from '../config/outposts.ts';

const MINIMUM_VERSION = [2, 2, 2] as const;
/**
 * The mark scripts/install-tools.sh puts in the version of the s5cmd it builds with
 * scripts/s5cmd-no-head.patch ("v2.3.0+nohead.1-dev"): that build asks no object for its size
 * before downloading it. A stock s5cmd makes a HEAD before every GET of an `s5cmd run` line.
 */
const NO_HEAD_MARK = /\+(nohead\.\d+)/;
const CHECKOUT_HINT =
  'Run `npm run tools` in the dualsync folder (it builds s5cmd 2.3.0 into .tools/; Go is needed), ' +
  'or set DUALSYNC_S5CMD to the path of an s5cmd 2.2.2 or newer.';
const RELEASE_HINT =
  'Keep the s5cmd of the release archive beside the dualsync executable (unpack the archive again), ' +
  'or set DUALSYNC_S5CMD to the path of an s5cmd 2.2.2 or newer.';

/** `.tools/` of the dualsync checkout this file belongs to (a release has none: see findS5cmd). */
const packageTools = fileURLToPath(new URL('../../.tools/', import.meta.url));

/** Where s5cmd was found, in words: shown by `dualsync version` and in errors. */
export type S5cmdOrigin = 'DUALSYNC_S5CMD' | 'DUALSYNC_TOOLS' | 'beside the dualsync executable' | 'the package .tools folder' | 'PATH';

/** The s5cmd that will run. */
export interface FoundS5cmd {
  path: string;
  /** "2.3.0+nohead.1" for the patched build, "2.3.0" or "2.2.2" for a stock one. */
  version: string;
  origin: S5cmdOrigin;
  /** Whether it makes a HEAD request before each download (every stock s5cmd up to 2.3.0 does). */
  headPerDownload: boolean;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Candidate paths in the documented order, each with where it came from. */
function candidates(env: NodeJS.ProcessEnv, release: string | undefined): { path: string; origin: S5cmdOrigin; explicit: boolean }[] {
  const list: { path: string; origin: S5cmdOrigin; explicit: boolean }[] = [];
  if (env.DUALSYNC_S5CMD) list.push({ path: env.DUALSYNC_S5CMD, origin: 'DUALSYNC_S5CMD', explicit: true });
  if (env.DUALSYNC_TOOLS) list.push({ path: join(env.DUALSYNC_TOOLS, 's5cmd'), origin: 'DUALSYNC_TOOLS', explicit: true });
  // The release executable takes the s5cmd it was shipped with; a checkout, the one npm run tools built.
  if (release !== undefined) list.push({ path: join(release, 's5cmd'), origin: 'beside the dualsync executable', explicit: false });
  else list.push({ path: join(packageTools, 's5cmd'), origin: 'the package .tools folder', explicit: false });
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '') list.push({ path: join(dir, 's5cmd'), origin: 'PATH', explicit: false });
  }
  return list;
}

/** Parses `s5cmd version` output ("v2.2.2-dev", "v2.3.0-abc1234", "v2.3.0+nohead.1-dev") into [major, minor, patch]. */
export function parseS5cmdVersion(output: string): [number, number, number] | undefined {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** The patch named in `s5cmd version` output ("nohead.1"), or undefined for a stock build. */
export function s5cmdPatchOf(output: string): string | undefined {
  return NO_HEAD_MARK.exec(output)?.[1];
}

function atLeastMinimum(version: readonly number[]): boolean {
  for (let i = 0; i < MINIMUM_VERSION.length; i++) {
    const have = version[i] ?? 0;
    const want = MINIMUM_VERSION[i] ?? 0;
    if (have !== want) return have > want;
  }
  return true;
}

/**
 * Finds the s5cmd to run: $DUALSYNC_S5CMD, then $DUALSYNC_TOOLS/s5cmd, then the s5cmd beside
 * the release executable (`release`, its folder; from a checkout, the package's `.tools/s5cmd`
 * instead), then PATH. The first one found decides; it must be 2.2.2 or newer (older ones lack
 * flags and fixes dualsync relies on). A stock one is accepted, with `headPerDownload` set:
 * it works, but each download costs a HEAD request too (doctor says so).
 */
export async function findS5cmd(
  env: NodeJS.ProcessEnv = process.env,
  release: string | undefined = releaseFolder(),
): Promise<FoundS5cmd> {
  const hint = release === undefined ? CHECKOUT_HINT : RELEASE_HINT;
  for (const candidate of candidates(env, release)) {
    if (!(await isExecutable(candidate.path))) {
      if (candidate.explicit) {
        throw userError('E_S5CMD_MISSING', `s5cmd not found at ${candidate.path} (from ${candidate.origin})`, { hint });
      }
      continue;
    }
    let output: string;
    try {
      ({ stdout: output } = await promisify(execFile)(candidate.path, ['version'], { timeout: 15_000, env: { PATH: env.PATH ?? '' } }));
    } catch (error) {
      throw userError('E_S5CMD_BROKEN', `${candidate.path} (from ${candidate.origin}) did not answer \`s5cmd version\`: ${describeError(error)}`, {
        hint,
      });
    }
    const version = parseS5cmdVersion(output);
    if (version === undefined || !atLeastMinimum(version)) {
      throw userError('E_S5CMD_VERSION', `${candidate.path} (from ${candidate.origin}) is s5cmd ${output.trim() || 'of unknown version'}; dualsync needs 2.2.2 or newer`, {
        hint,
      });
    }
    const patch = s5cmdPatchOf(output);
    return {
      path: candidate.path,
      version: version.join('.') + (patch === undefined ? '' : `+${patch}`),
      origin: candidate.origin,
      headPerDownload: patch === undefined,
    };
  }
  throw userError('E_S5CMD_MISSING', `s5cmd was not found (looked at DUALSYNC_S5CMD, DUALSYNC_TOOLS, ${release === undefined ? '.tools/s5cmd' : join(release, 's5cmd')} and PATH)`, { hint });
}

/** The oldest s5cmd that signs S3 on Outposts downloads right (aws-sdk-go 1.44.298: X-Amz-Content-Sha256 for `s3-outposts`). */
const OUTPOSTS_MINIMUM_VERSION = [2, 3, 0] as const;

/** Whether `version` ("2.3.0+nohead.1", "2.2.2") is at least `minimum`. */
function versionAtLeast(version: string, minimum: readonly number[]): boolean {
  const have = parseS5cmdVersion(version);
  if (have === undefined) return false;
  for (let i = 0; i < minimum.length; i++) {
    if (have[i] !== minimum[i]) return (have[i] ?? 0) > (minimum[i] ?? 0);
  }
  return true;
}

/**
 * Refuses an S3 on Outposts hop when the s5cmd found is older than 2.3.0: s5cmd 2.2.2 vendors
 * aws-sdk-go 1.44.256, whose signer leaves X-Amz-Content-Sha256 out of requests signed for
 * `s3-outposts`, and an Outpost refuses such requests. Doctor and plan call it.
 */
export function requireOutpostsS5cmd(found: FoundS5cmd, hops: readonly { side: string; hop: HopConfig }[]): void {
  const outposts = hops.filter(({ hop }) => isOutpostsBucket(hop.bucket));
  if (outposts.length === 0 || versionAtLeast(found.version, OUTPOSTS_MINIMUM_VERSION)) return;
  const named = outposts.map(({ side, hop }) => `${side} ${hop.bucket}`).join(' and ');
  throw userError(
    'E_S5CMD_OUTPOSTS',
    `s5cmd ${found.version} at ${found.path} (from ${found.origin}) cannot transfer from S3 on Outposts (${named}): its aws-sdk-go (before 1.44.298) signs s3-outposts requests without the X-Amz-Content-Sha256 header, which the Outpost requires`,
    { hint: 'Use s5cmd 2.3.0 or newer: `npm run tools` builds it into .tools/, or set DUALSYNC_S5CMD to one.' },
  );
}

/** Inherited variables that name where credentials come from; a configured hop replaces them all. */
function isCredentialSource(name: string): boolean {
  // Files and switches that say where to look are kept: a profile needs them.
  if (name === 'AWS_CONFIG_FILE' || name === 'AWS_SHARED_CREDENTIALS_FILE' || name === 'AWS_SDK_LOAD_CONFIG') return false;
  return name.startsWith('AWS_');
}

/**
 * The environment for an s5cmd run on this hop. Everything that decides where s5cmd connects
 * and as whom comes from the hop, not from whatever the parent shell exported: an inherited
 * S3_ENDPOINT_URL or AWS_PROFILE would otherwise send one hop's traffic to the other's server.
 * Credentials: static -> AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN);
 * profile -> AWS_PROFILE; default -> the inherited chain. Proxies are inherited unless the hop
 * names one.
 */
export function s5cmdEnv(hop: HopConfig, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  requireCredentials(hop);
  const env: Record<string, string> = {};
  const credentials = hop.credentials;
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (name === 'S3_ENDPOINT_URL' || name === 'AWS_ENDPOINT_URL' || name === 'AWS_ENDPOINT_URL_S3') continue;
    if (name === 'AWS_REGION' || name === 'AWS_DEFAULT_REGION' || name === 'AWS_CA_BUNDLE') continue;
    if (credentials.kind !== 'default' && isCredentialSource(name)) continue;
    if (hop.proxy !== undefined && /^(https?|all)_proxy$/i.test(name)) continue;
    env[name] = value;
  }
  if (credentials.kind === 'static') {
    env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    if (credentials.sessionToken !== undefined) env.AWS_SESSION_TOKEN = credentials.sessionToken;
  } else if (credentials.kind === 'profile') {
    env.AWS_PROFILE = credentials.profile;
  }
  // 'snow' is the Snowball's signing region and goes through as it is.
  env.AWS_REGION = hop.region;
  // aws-sdk-go refuses an access point ARN of another region unless told, like the config check.
  if (hop.useArnRegion === true) env.AWS_S3_USE_ARN_REGION = 'true';
  if (hop.tls.caBundle !== undefined) env.AWS_CA_BUNDLE = hop.tls.caBundle;
  if (hop.proxy !== undefined) {
    env.HTTPS_PROXY = hop.proxy;
    env.HTTP_PROXY = hop.proxy;
  }
  return env;
}

/**
 * Global flags for an s5cmd run on this hop (they go before the command, e.g. `run`).
 * `--json` because the runner reads one JSON result per line; the log level stays `info`,
 * since that is the level at which s5cmd reports each successful transfer. Workers are capped
 * by the hop's connection budget. s5cmd (2.2.2 and 2.3.0 alike) has no addressing flag: it uses
 * path-style for any custom endpoint and virtual-hosted style for AWS, so virtual addressing on a
 * custom endpoint is refused instead of silently not honoured.
 */
export function s5cmdGlobalArgs(hop: HopConfig, workers: number): string[] {
  assert(Number.isInteger(workers) && workers >= 1, `s5cmd workers must be a positive integer, got ${workers}`);
  if (hop.endpoint !== undefined && hop.addressing === 'virtual') {
    throw userError('E_S5CMD_ADDRESSING', `bucket ${hop.bucket}: addressing "virtual" with endpoint ${hop.endpoint} cannot be used with s5cmd`, {
      hint: 's5cmd always uses path-style requests with a custom endpoint; set `addressing: path` for this hop.',
    });
  }
  const numWorkers = hop.maxConnections === undefined ? workers : Math.max(1, Math.min(workers, hop.maxConnections));
  const args = ['--json', '--numworkers', String(numWorkers)];
  if (hop.endpoint !== undefined) args.push('--endpoint-url', hop.endpoint);
  if (!hop.tls.verify) args.push('--no-verify-ssl');
  if (hop.listApi === 'v1') args.push('--use-list-objects-v1');
  return args;
}
