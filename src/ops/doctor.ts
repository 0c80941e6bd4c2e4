/**
 * `dualsync doctor`: everything a run needs, checked one by one, so that an operator at a
 * forward site learns what is wrong before the first apply rather than from it.
 *
 * Each check stands alone: a hop that does not answer still gets its clock, budget and listApi
 * rows, and a missing volume does not hide the others. The doctor reads and lists; it writes at
 * the destination only with --write-probe (one small object under the prefix, deleted again),
 * and on the local disk only a temporary file in each volume and in the state directory.
 *
 * Over 400 lines: one short function per check, in the order the report shows them; the checks
 * stand alone and are read one by one, so one file reads as the list of what doctor checks.
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lstat, mkdir, readFile, rmdir, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { findS5cmd, requireOutpostsS5cmd } from '../apply/s5cmd.ts';
import { isOutpostsBucket } from '../config/outposts.ts';
import { lockHolder } from '../apply/lock.ts';
import { formatDiagnostic } from '../config/load.ts';
import { formatBytes } from '../config/units.ts';
import { describeError, isDualsyncError } from '../errors.ts';
import { classifyS3Error, createS3Client, firstObject } from '../inventory/s3.ts';
import { endpointTarget, probeReach, type EndpointTarget } from '../inventory/reach.ts';
import { claimStates, copyRefusal, describeForeignClaims } from '../inventory/claims.ts';
import { reserveBytes } from '../inventory/volumes.ts';
import { LedgerStore } from '../ledger/store.ts';
import type { Config, HopConfig, TransferConfig } from '../model/config.ts';
import { hopSettings } from '../plan/hops.ts';
import { TEMP_DIR } from '../model/volume-layout.ts';
import { doctorReport, type DoctorCheck, type DoctorReport } from '../model/doctor.ts';
import type { CheckedConfig } from './config.ts';
import { mountOfDirectory, readMounts, type MountEntry } from './mounts.ts';
import { volumeEntries } from './volumes.ts';
import type { Side } from '../model/side.ts';

export interface DoctorOptions {
  /** Put and delete one object under the destination prefix. */
  writeProbe: boolean;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  /** Per network step (connect, TLS handshake, list request). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 8_000;
const MINUTE = 60_000;
/** SigV4 refuses a request signed more than 15 minutes away from the server's clock. */
const SIGV4_LIMIT_MS = 15 * MINUTE;
const SKEW_WARN_MS = 5 * MINUTE;
const CERT_EXPIRY_WARN_DAYS = 30;

/** The clock row from a server Date header's distance to this machine's clock. */
export function clockCheck(scope: string, skewMs: number | undefined): DoctorCheck {
  if (skewMs === undefined) {
    return { scope, check: 'clock', status: 'skip', detail: 'not checked: the server sent no answer with a Date header' };
  }
  const seconds = Math.round(Math.abs(skewMs) / 1000);
  const direction = skewMs > 0 ? 'ahead of' : 'behind';
  const amount = seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${seconds} s`;
  const fix =
    "set the clocks right: on this machine `timedatectl set-ntp true` (or, without a time server, `sudo date -s 'YYYY-MM-DD HH:MM:SS'` in UTC); a Snowball's clock follows its network's time source";
  if (Math.abs(skewMs) >= SIGV4_LIMIT_MS) {
    return { scope, check: 'clock', status: 'fail', detail: `the server's clock is ${amount} ${direction} this machine's: signed requests are refused beyond 15 min`, fix };
  }
  if (Math.abs(skewMs) > SKEW_WARN_MS) {
    return { scope, check: 'clock', status: 'warn', detail: `the server's clock is ${amount} ${direction} this machine's; signed requests fail at 15 min`, fix };
  }
  return { scope, check: 'clock', status: 'pass', detail: seconds <= 1 ? "the server's clock agrees with this machine's" : `the server's clock is ${amount} ${direction} this machine's` };
}

/** The connection-budget row: workers x concurrency against the hop's maxConnections (src/plan/hops.ts). */
export function connectionCheck(side: Side, hop: HopConfig, transfer: TransferConfig): DoctorCheck {
  const { settings, warning } = hopSettings(transfer.workers, transfer.concurrency, hop.maxConnections, side);
  const wanted = transfer.workers * transfer.concurrency;
  const scope = side;
  if (warning !== undefined) {
    return {
      scope,
      check: 'connections',
      status: 'warn',
      detail: `transfer.workers ${transfer.workers} x concurrency ${transfer.concurrency} = ${wanted} connections exceeds maxConnections ${hop.maxConnections}: ${warning}; effective workers ${settings.workers} x ${settings.concurrency}`,
      fix: `set transfer.workers to ${settings.workers} to say so in the config, or raise ${side}.maxConnections if the endpoint accepts more${hop.region === 'snow' ? ' (a Snowball drops connections beyond 1,000)' : ''}`,
    };
  }
  if (hop.maxConnections === undefined && hop.region === 'snow') {
    return {
      scope,
      check: 'connections',
      status: 'warn',
      detail: `up to ${wanted} connections (workers ${transfer.workers} x concurrency ${transfer.concurrency}) and no maxConnections: a Snowball drops connections beyond 1,000`,
      fix: `set ${side}.maxConnections: 500`,
    };
  }
  const cap = hop.maxConnections === undefined ? 'no maxConnections set' : `within maxConnections ${hop.maxConnections}`;
  return { scope, check: 'connections', status: 'pass', detail: `up to ${wanted} connections: workers ${settings.workers} x concurrency ${settings.concurrency} (${cap})` };
}

/** The listApi row, for a Snowball hop only: its adapter cuts ListObjectsV2 at 1,000 keys. */
export function listApiCheck(side: Side, hop: HopConfig): DoctorCheck | undefined {
  if (hop.region !== 'snow') return undefined;
  if (hop.listApi === 'v1') return { scope: side, check: 'listApi', status: 'pass', detail: 'listApi v1, as the Snowball S3 adapter needs' };
  return {
    scope: side,
    check: 'listApi',
    status: 'warn',
    detail: 'listApi v2 on a Snowball: its S3 adapter cuts ListObjectsV2 at 1,000 keys, so larger listings are incomplete',
    fix: `set \`listApi: v1\` under ${side}`,
  };
}

/** Where a hop's credentials come from, in words an operator can act on (environment variables, profile, file). */
export function credentialSource(side: Side, hop: HopConfig, configText: string): string {
  const credentials = hop.credentials;
  if (credentials.kind === 'profile') return `the AWS profile "${credentials.profile}" (~/.aws/credentials and ~/.aws/config)`;
  if (credentials.kind === 'default') {
    return 'the default AWS credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws, an instance role)';
  }
  let written: { accessKeyId?: unknown; secretAccessKey?: unknown } = {};
  try {
    const document = parseYaml(configText) as Record<string, { credentials?: typeof written } | undefined> | null;
    written = document?.[side]?.credentials ?? {};
  } catch {
    // The config parsed a moment ago; if it no longer does, fall back to the generic words.
  }
  const variables = [written.accessKeyId, written.secretAccessKey].flatMap((value) =>
    typeof value === 'string' ? [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string) : [],
  );
  if (variables.length > 0) return `the environment variables ${[...new Set(variables)].join(' and ')}`;
  return `the keys written in the config (${side}.credentials)`;
}

function timeout<T>(ms: number, work: (done: (error: Error | undefined, value?: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let cleanup: () => void = () => {};
    const done = (error: Error | undefined, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      if (error) reject(error);
      else resolve(value as T);
    };
    const timer = setTimeout(() => done(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: 'ETIMEDOUT' })), ms);
    cleanup = work(done);
  });
}

const REACH_FIX: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve: check the endpoint in the config and this machine\'s DNS (/etc/resolv.conf), or use the IP address',
  EAI_AGAIN: 'DNS did not answer: check this machine\'s DNS (/etc/resolv.conf) and its network, or use the IP address',
  ECONNREFUSED: 'nothing listens there: check that the server (or device) is on and its S3 service started, and the endpoint\'s port (a Snowball: 8080 for HTTP, 8443 for HTTPS)',
  ETIMEDOUT: 'no answer: check the network path (cable, route, VPN or SD-WAN, firewall) to that address and port',
  EHOSTUNREACH: 'no route to that host: check this machine\'s network, its route to the endpoint and the endpoint\'s IP',
  ENETUNREACH: 'this machine has no route to that network: check its network configuration',
};

/** The reachable row: the hop's probe (inventory/reach.ts) up to its TCP connection; the list row asks the server. */
async function reachabilityCheck(side: Side, hop: HopConfig, ms: number): Promise<DoctorCheck> {
  const scope = side;
  const reach = await probeReach(hop, { timeoutMs: ms });
  const { host, port } = reach;
  const via = reach.viaProxy ? ` (the proxy for ${reach.target.url})` : '';
  const resolved = reach.addresses === undefined ? '' : ` (${host} is ${reach.addresses.join(', ')})`;
  if (reach.failure === undefined) {
    const note = reach.target.derived ? ', the AWS endpoint of its region' : '';
    return { scope, check: 'reachable', status: 'pass', detail: `TCP connect to ${host}:${port}${via}${note} in ${Math.max(1, Math.round(reach.connectMs ?? 0))} ms${resolved}` };
  }
  const { code, error } = reach.failure;
  return {
    scope,
    check: 'reachable',
    status: 'fail',
    detail: `cannot reach ${host}:${port}${via}: ${code === 'ECONNREFUSED' ? 'connection refused' : describeError(error)}${resolved}`,
    fix: REACH_FIX[code] ?? 'check the endpoint in the config and the network between this machine and it',
  };
}

const UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);
const CERTIFICATE_FIX =
  'fetch the device certificate (`snowballEdge list-certificates`, then `snowballEdge get-certificate --certificate-arn ARN`), save it as a PEM file, and set tls.caBundle to that file';
/** The fix when tls.caBundle is set but does not vouch for the server: the words plan's E_S3_TLS hint uses. */
const certificateOverFix = (caBundle: string) =>
  `fetch the device certificate (\`snowballEdge list-certificates\`, then \`snowballEdge get-certificate --certificate-arn ARN\`) and save it as a PEM file over ${caBundle}`;

async function tlsCheck(side: Side, hop: HopConfig, target: EndpointTarget, ms: number, now: Date): Promise<DoctorCheck> {
  const scope = side;
  if (!target.https) return { scope, check: 'tls', status: 'skip', detail: `not used: ${target.url} is plain HTTP` };
  if (hop.proxy !== undefined) return { scope, check: 'tls', status: 'skip', detail: `through the proxy ${new URL(hop.proxy).host}: the list check below covers TLS` };
  let ca: Buffer | undefined;
  if (hop.tls.caBundle !== undefined) {
    try {
      ca = await readFile(hop.tls.caBundle);
    } catch (error) {
      return { scope, check: 'tls', status: 'fail', detail: `cannot read tls.caBundle ${hop.tls.caBundle}: ${describeError(error)}`, fix: CERTIFICATE_FIX };
    }
  }
  try {
    const certificate = await timeout<{ peer: PeerCertificate; authorized: boolean; reason?: string }>(ms, (done) => {
      const socket = tlsConnect({
        host: target.host,
        port: target.port,
        servername: isIP(target.host) === 0 ? target.host : undefined,
        ca,
        rejectUnauthorized: hop.tls.verify,
      });
      socket.once('secureConnect', () =>
        done(undefined, { peer: socket.getPeerCertificate(), authorized: socket.authorized, reason: socket.authorizationError?.toString() }),
      );
      socket.once('error', (error) => done(error));
      return () => socket.destroy();
    });
    const subject = certificate.peer.subject?.CN ?? certificate.peer.subjectaltname ?? 'the server';
    const expires = certificate.peer.valid_to ? new Date(certificate.peer.valid_to) : undefined;
    const days = expires ? Math.floor((expires.getTime() - now.getTime()) / 86_400_000) : undefined;
    const until = expires ? `, valid until ${expires.toISOString().slice(0, 10)}` : '';
    const trust = hop.tls.caBundle !== undefined ? `trusted through tls.caBundle ${hop.tls.caBundle}` : 'trusted by the system CAs';
    if (!hop.tls.verify) {
      return {
        scope,
        check: 'tls',
        status: 'warn',
        detail: `handshake with ${subject} done, but tls.verify is false: the certificate is not checked${certificate.authorized ? '' : ` (it would fail: ${certificate.reason})`}`,
        fix: `trust the certificate instead: ${CERTIFICATE_FIX}, and set tls.verify: true`,
      };
    }
    if (days !== undefined && days < CERT_EXPIRY_WARN_DAYS) {
      return { scope, check: 'tls', status: 'warn', detail: `certificate of ${subject} ${trust}, but it expires in ${days} day(s)${until}`, fix: 'renew the certificate on the server before it expires' };
    }
    return { scope, check: 'tls', status: 'pass', detail: `certificate of ${subject} ${trust}${until}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code in REACH_FIX) {
      return { scope, check: 'tls', status: 'skip', detail: `not checked: ${target.host}:${target.port} cannot be reached (see the reachable row)` };
    }
    if (UNTRUSTED.has(code)) {
      return {
        scope,
        check: 'tls',
        status: 'fail',
        detail: `the server's certificate is self-signed or from an unknown CA (${code})${hop.tls.caBundle ? `, and tls.caBundle ${hop.tls.caBundle} does not vouch for it` : ''}`,
        fix: hop.tls.caBundle ? certificateOverFix(hop.tls.caBundle) : CERTIFICATE_FIX,
      };
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return {
        scope,
        check: 'tls',
        status: 'fail',
        detail: `the certificate is not for ${target.host}: ${describeError(error)}`,
        fix: `use the address the certificate names, or fetch a new certificate (a Snowball's changes with its IP): ${CERTIFICATE_FIX}`,
      };
    }
    if (code === 'CERT_HAS_EXPIRED') return { scope, check: 'tls', status: 'fail', detail: 'the server certificate has expired', fix: 'renew the certificate on the server (a Snowball: fetch the current one again)' };
    return { scope, check: 'tls', status: 'fail', detail: `TLS handshake with ${target.host}:${target.port} failed: ${describeError(error)}`, fix: 'check that the endpoint speaks HTTPS on that port (a Snowball: 8443), or use http:// for a plain HTTP endpoint' };
  }
}

interface ListOutcome {
  check: DoctorCheck;
  /** Server clock minus this machine's, from the first answer's Date header. */
  skewMs?: number;
  client?: S3Client;
}

/** Records the Date header of every raw answer, errors included, before the SDK parses it. */
function watchServerClock(client: S3Client, onDate: (serverMs: number, receivedMs: number) => void): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const seen = (response: unknown) => {
        const headers = (response as { headers?: Record<string, string> } | undefined)?.headers;
        const date = headers?.date ?? headers?.Date;
        if (date !== undefined && !Number.isNaN(Date.parse(date))) onDate(Date.parse(date), Date.now());
      };
      const result = await next(args);
      seen(result.response);
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'dualsyncDoctorServerClock' },
  );
}

async function listCheck(side: Side, hop: HopConfig, configText: string, ms: number): Promise<ListOutcome> {
  const scope = side;
  const where = `s3://${hop.bucket}/${hop.prefix}`;
  let client: S3Client;
  try {
    client = createS3Client(hop, { maxSockets: 2 });
  } catch (error) {
    return { check: { scope, check: 'list', status: 'fail', detail: describeError(error), fix: isDualsyncError(error) ? error.hint : undefined } };
  }
  let skewMs: number | undefined;
  watchServerClock(client, (serverMs, receivedMs) => (skewMs ??= serverMs - receivedMs));
  try {
    // One object is all this check needs (inventory/s3.ts drops the answer at its first object).
    const any = (await firstObject(client, hop, { timeoutMs: ms * 2 })) !== undefined;
    const api = hop.listApi === 'v1' ? 'ListObjects (v1)' : 'ListObjectsV2';
    if (!any && side === 'source') {
      return {
        skewMs,
        client,
        check: { scope, check: 'list', status: 'warn', detail: `${api} on ${where} works, but there is nothing under the prefix`, fix: `if objects are expected, check ${side}.bucket and ${side}.prefix` },
      };
    }
    return { skewMs, client, check: { scope, check: 'list', status: 'pass', detail: `${api} on ${where} works: credentials accepted${any ? '' : ' (nothing there yet)'}` } };
  } catch (failure) {
    // The listing's error, classified; the SDK's own is its cause.
    const error = isDualsyncError(failure) && failure.cause !== undefined ? failure.cause : failure;
    const source = credentialSource(side, hop, configText);
    if ((error as { name?: string }).name === 'CredentialsProviderError') {
      return {
        skewMs,
        client,
        check: { scope, check: 'list', status: 'fail', detail: `no credentials for the ${side} hop: ${describeError(error)}`, fix: `provide them through ${source}` },
      };
    }
    const classified = isDualsyncError(failure) ? failure : classifyS3Error(failure, hop, 'listing');
    let fix = classified.hint;
    if (classified.code === 'E_S3_ACCESS') {
      fix = `check ${source}: they must be keys that ${hop.endpoint ?? `AWS (${hop.region})`} knows, allowed to list bucket ${hop.bucket}${hop.region === 'snow' ? ' (a Snowball\'s keys: `snowballEdge list-access-keys` and `snowballEdge get-secret-access-key`)' : ''}`;
    } else if (classified.code === 'E_S3_FAILED' && classified.retryable) {
      fix = 'the server did not answer the request: fix the reachability and TLS rows of this hop first';
    }
    const detail = classified.code === 'E_S3_ACCESS' ? `the ${side} hop's credentials were refused, or may not list the bucket: ${classified.message}` : classified.message;
    return { skewMs, client, check: { scope, check: 'list', status: 'fail', detail, fix } };
  }
}

async function writeProbeCheck(hop: HopConfig, client: S3Client | undefined, options: DoctorOptions, ms: number): Promise<DoctorCheck> {
  const scope = 'destination';
  if (!options.writeProbe) {
    return {
      scope,
      check: 'write',
      status: 'skip',
      detail: 'not tried: dualsync writes at the destination only during apply; `dualsync doctor --write-probe` puts and deletes one small object under the prefix',
    };
  }
  if (client === undefined) return { scope, check: 'write', status: 'fail', detail: 'not tried: no S3 client for this hop (see the list row)' };
  const key = `${hop.prefix}.dualsync-doctor-${hostname()}-${process.pid}-${options.now().getTime()}-${randomBytes(4).toString('hex')}`;
  const where = `s3://${hop.bucket}/${key}`;
  const signal = () => ({ abortSignal: AbortSignal.timeout(ms * 2) });
  try {
    await client.send(new PutObjectCommand({ Bucket: hop.bucket, Key: key, Body: 'dualsync doctor write probe\n' }), signal());
  } catch (error) {
    const classified = classifyS3Error(error, { ...hop, prefix: key }, 'writing');
    return {
      scope,
      check: 'write',
      status: 'fail',
      detail: classified.message,
      fix: classified.code === 'E_S3_ACCESS' ? `allow these credentials s3:PutObject (and the multipart upload actions) on ${hop.bucket}/${hop.prefix}*` : classified.hint,
    };
  }
  try {
    await client.send(new DeleteObjectCommand({ Bucket: hop.bucket, Key: key }), signal());
  } catch (error) {
    return {
      scope,
      check: 'write',
      status: 'warn',
      detail: `wrote ${where}, but could not delete it again (${describeError(error)}); dualsync itself never deletes at the destination, so only the probe is left`,
      fix: `remove the probe object by hand: s5cmd rm '${where}'`,
    };
  }
  return { scope, check: 'write', status: 'pass', detail: `put and deleted a probe object under s3://${hop.bucket}/${hop.prefix}` };
}

async function hopChecks(side: Side, config: Config, configText: string, options: DoctorOptions): Promise<DoctorCheck[]> {
  const hop = config[side];
  const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let target: EndpointTarget | undefined;
  try {
    target = endpointTarget(hop);
  } catch (error) {
    return [{ scope: side, check: 'endpoint', status: 'fail', detail: `the endpoint ${hop.endpoint} is not a URL: ${describeError(error)}`, fix: `write ${side}.endpoint like https://192.0.2.10:8443` }];
  }
  const [reach, tls, list] = await Promise.all([reachabilityCheck(side, hop, ms), tlsCheck(side, hop, target, ms, options.now()), listCheck(side, hop, configText, ms)]);
  const checks = [reach, tls, list.check, clockCheck(side, list.skewMs)];
  const api = listApiCheck(side, hop);
  if (api) checks.push(api);
  checks.push(connectionCheck(side, hop, config.transfer));
  if (side === 'destination') checks.push(await writeProbeCheck(hop, list.client, options, ms));
  list.client?.destroy();
  return checks;
}

async function s5cmdCheck(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  try {
    const found = await findS5cmd(env);
    if (found.headPerDownload) {
      // It works, but the download hop makes two requests per object: costly on a device.
      return {
        scope: 's5cmd',
        check: 'version',
        status: 'warn',
        detail: `s5cmd ${found.version} at ${found.path} is a stock build: it makes a HEAD request before every download, two requests per object on the source`,
        fix: 'use the s5cmd that `npm run tools` builds (2.3.0+nohead.1) or the one in the release archive',
      };
    }
    return { scope: 's5cmd', check: 'version', status: 'pass', detail: `s5cmd ${found.version} at ${found.path}` };
  } catch (error) {
    return { scope: 's5cmd', check: 'version', status: 'fail', detail: describeError(error), fix: isDualsyncError(error) ? error.hint : undefined };
  }
}

/** Whether the s5cmd found can transfer from an S3 on Outposts hop (2.3.0 or newer); no row without such a hop. */
async function outpostsCheck(env: NodeJS.ProcessEnv, config: Config): Promise<DoctorCheck[]> {
  const hops = [
    { side: 'source', hop: config.source },
    { side: 'destination', hop: config.destination },
  ];
  if (!hops.some(({ hop }) => isOutpostsBucket(hop.bucket))) return [];
  try {
    const found = await findS5cmd(env);
    requireOutpostsS5cmd(found, hops);
    return [{ scope: 's5cmd', check: 'outposts', status: 'pass', detail: `s5cmd ${found.version} signs S3 on Outposts requests with X-Amz-Content-Sha256 (2.3.0 or newer)` }];
  } catch (error) {
    return [{ scope: 's5cmd', check: 'outposts', status: 'fail', detail: describeError(error), fix: isDualsyncError(error) ? error.hint : undefined }];
  }
}

/** Creates and removes a file in `directory`; the error message when that is not possible. */
async function tryWrite(directory: string): Promise<string | undefined> {
  const probe = join(directory, `.dualsync-doctor-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(probe, 'probe\n', { flag: 'wx' });
    await unlink(probe);
    return undefined;
  } catch (error) {
    await unlink(probe).catch(() => undefined);
    return describeError(error);
  }
}

/** Whose the volume is: this state directory's, nobody's yet, or another's (which plan and apply refuse). */
async function claimCheck(scope: string, root: string, config: Config): Promise<DoctorCheck> {
  try {
    const [state] = await claimStates([root], config.stateDir);
    if (state?.owner === 'ours') return { scope, check: 'claim', status: 'pass', detail: `claimed by this state directory since ${state.claim.claimedAt}` };
    if (state?.owner === 'copy') {
      const refusal = await copyRefusal([state], config);
      return { scope, check: 'claim', status: 'fail', detail: refusal.message, fix: refusal.hint };
    }
    if (state?.owner !== 'other') return { scope, check: 'claim', status: 'pass', detail: 'not claimed yet: the first apply claims it for this state directory' };
    const [owner] = await describeForeignClaims([state]);
    return {
      scope,
      check: 'claim',
      status: 'fail',
      detail: owner ?? `claimed by ${state.claim.stateDir}`,
      fix: `hand it over with \`dualsync volumes release -c ${state.claim.config}\` (or \`dualsync reset\` there), or give this config volumes of its own`,
    };
  } catch (error) {
    return { scope, check: 'claim', status: 'fail', detail: describeError(error), fix: isDualsyncError(error) ? error.hint : undefined };
  }
}

async function volumeChecks(root: string, config: Config, mounts: readonly MountEntry[]): Promise<DoctorCheck[]> {
  const scope = `volume ${root}`;
  const info = await stat(root).catch((error: unknown) => error as NodeJS.ErrnoException);
  if (info instanceof Error) {
    return [{ scope, check: 'present', status: 'fail', detail: `volume ${root} cannot be read: ${describeError(info)}`, fix: 'mount the disk there, or fix staging.volumes' }];
  }
  if (!info.isDirectory()) {
    return [{ scope, check: 'present', status: 'fail', detail: `volume ${root} is not a directory`, fix: 'point staging.volumes at directories (mount points)' }];
  }
  const checks: DoctorCheck[] = [];
  const mount = await mountOfDirectory(root, mounts);
  if (mount === undefined) {
    checks.push({ scope, check: 'present', status: 'pass', detail: 'a directory (its filesystem is unknown)' });
  } else if (mount.mountPoint === '/') {
    checks.push({
      scope,
      check: 'present',
      status: 'warn',
      detail: `a directory on the root filesystem (${mount.fsType} on ${mount.source}), not a disk of its own`,
      fix: 'if a data disk belongs here, mount it (and add it to /etc/fstab; `dualsync volumes provision` prints the line); if staging on the system disk is meant, keep staging.reserve large enough for the system',
    });
  } else {
    checks.push({ scope, check: 'present', status: 'pass', detail: `${mount.fsType} on ${mount.source}, mounted at ${mount.mountPoint}` });
  }

  checks.push(await claimCheck(scope, root, config));

  // The probe goes where downloads go, so that it proves what apply needs; never through a link (invariant 4).
  const temp = join(root, TEMP_DIR);
  if ((await lstat(temp).catch(() => undefined))?.isSymbolicLink() === true) {
    checks.push({ scope, check: 'writable', status: 'fail', detail: `${temp} is a symbolic link; dualsync does not follow links below a volume root, so no download can use this volume`, fix: `remove the link: \`rm ${temp}\`` });
  } else {
    const made = await mkdir(temp).then(
      () => true,
      (error: NodeJS.ErrnoException) => (error.code === 'EEXIST' ? false : error),
    );
    const problem = made instanceof Error ? describeError(made) : await tryWrite(temp);
    if (made === true) await rmdir(temp).catch(() => undefined);
    checks.push(
      problem === undefined
        ? { scope, check: 'writable', status: 'pass', detail: `created and removed a file in ${TEMP_DIR}/` }
        : { scope, check: 'writable', status: 'fail', detail: `cannot write in ${temp}: ${problem}`, fix: `give the user running dualsync write access: \`sudo chown -R $(id -u):$(id -g) ${root}\`` },
    );
  }

  try {
    const space = await statfs(root);
    const total = space.blocks * space.bsize;
    const free = space.bavail * space.bsize;
    const reserve = reserveBytes(config.staging.reserve, total);
    const room = free - reserve;
    const numbers = `${formatBytes(free)} free of ${formatBytes(total)}, reserve ${formatBytes(reserve)}`;
    checks.push(
      room > 0
        ? { scope, check: 'space', status: 'pass', detail: `${numbers}: room for ${formatBytes(room)}` }
        : {
            scope,
            check: 'space',
            status: 'fail',
            detail: `${numbers}: no room above the reserve, so nothing is downloaded to this volume`,
            fix: 'free space on it (delivered copies go with purgeAfterUpload: true), lower staging.reserve, or add a volume',
          },
    );
  } catch (error) {
    checks.push({ scope, check: 'space', status: 'fail', detail: `cannot read the free space: ${describeError(error)}` });
  }
  return checks;
}

async function allVolumeChecks(config: Config): Promise<DoctorCheck[]> {
  const [entries, mounts] = await Promise.all([volumeEntries(config), readMounts()]);
  const perEntry = await Promise.all(
    entries.map(async ({ entry, roots }): Promise<DoctorCheck[]> => {
      if (roots.length === 0) {
        return [
          {
            scope: `volume ${entry}`,
            check: 'present',
            status: 'fail',
            detail: `staging volume ${entry} is missing: it matches no directory`,
            fix: 'mount the disk there (or create the directory); `dualsync volumes provision` prepares new disks; or remove it from staging.volumes',
          },
        ];
      }
      return (await Promise.all(roots.map((root) => volumeChecks(root, config, mounts)))).flat();
    }),
  );
  const roots = [...new Set(entries.flatMap((entry) => entry.roots))];
  return [...perEntry.flat(), ...(await sharedFilesystemChecks(roots, mounts))];
}

/**
 * One warning row per filesystem that holds several staging volumes: they share its free space
 * and its reserve, so the room each volume row shows is there once for all of them, not once
 * each (plan books it so), and their downloads share one disk.
 */
async function sharedFilesystemChecks(roots: readonly string[], mounts: readonly MountEntry[]): Promise<DoctorCheck[]> {
  const byDevice = new Map<number, string[]>();
  for (const root of roots) {
    const info = await stat(root).catch(() => undefined);
    // A volume that cannot be read has its own failing row above.
    if (info?.isDirectory() !== true) continue;
    byDevice.set(info.dev, [...(byDevice.get(info.dev) ?? []), root]);
  }
  const checks: DoctorCheck[] = [];
  for (const shared of byDevice.values()) {
    if (shared.length < 2) continue;
    const mount = await mountOfDirectory(shared[0]!, mounts);
    const where = mount === undefined ? 'one filesystem' : `one filesystem (${mount.fsType} on ${mount.source}, mounted at ${mount.mountPoint})`;
    checks.push({
      scope: 'volumes',
      check: 'shared-filesystem',
      status: 'warn',
      detail: `${shared.join(', ')} are on ${where}: they share its free space and reserve, so the room shown for each is there once for all of them, and their downloads share one disk`,
      fix: 'give each staging volume a filesystem of its own (one disk per volume; `dualsync volumes provision` prepares them), or keep them and accept the shared space: plan books it once',
    });
  }
  return checks;
}

/** The nearest directory that exists at or above `path`. */
async function existingAncestor(path: string): Promise<string> {
  let current = path;
  for (;;) {
    const info = await stat(current).catch(() => undefined);
    if (info !== undefined) return current;
    const parent = dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

async function stateChecks(config: Config): Promise<DoctorCheck[]> {
  const scope = 'state';
  const dir = config.stateDir;
  const checks: DoctorCheck[] = [];
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) {
    const ancestor = await existingAncestor(dir);
    const writable = await access(ancestor, constants.W_OK).then(
      () => true,
      () => false,
    );
    checks.push(
      writable
        ? { scope, check: 'writable', status: 'pass', detail: `${dir} does not exist yet; the first apply creates it in ${ancestor}` }
        : { scope, check: 'writable', status: 'fail', detail: `${dir} does not exist and ${ancestor} is not writable by this user`, fix: `create it: \`sudo mkdir -p ${dir} && sudo chown $(id -u):$(id -g) ${dir}\`, or point stateDir elsewhere` },
    );
    return checks;
  }
  if (!info.isDirectory()) return [{ scope, check: 'writable', status: 'fail', detail: `${dir} is not a directory`, fix: 'point stateDir at a directory' }];
  const problem = await tryWrite(dir);
  checks.push(
    problem === undefined
      ? { scope, check: 'writable', status: 'pass', detail: `${dir}: created and removed a file` }
      : { scope, check: 'writable', status: 'fail', detail: `cannot write in ${dir}: ${problem}`, fix: `give the user running dualsync write access: \`sudo chown -R $(id -u):$(id -g) ${dir}\`` },
  );
  try {
    const ledger = await LedgerStore.open(dir);
    const { records, serial } = ledger.summary(0);
    await ledger.close();
    checks.push({ scope, check: 'ledger', status: 'pass', detail: records === 0 ? 'no ledger yet (nothing applied so far)' : `readable: ${records} object(s), serial ${serial}` });
  } catch (error) {
    checks.push({ scope, check: 'ledger', status: 'fail', detail: describeError(error), fix: isDualsyncError(error) ? error.hint : undefined });
  }
  const holder = await lockHolder(dir).catch(() => undefined);
  if (holder !== undefined) {
    checks.push({ scope, check: 'lock', status: 'pass', detail: `held now by ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})` });
  }
  return checks;
}

function configChecks(checked: CheckedConfig): DoctorCheck[] {
  // Volume problems get their own rows below, with the volume named.
  const problems = checked.diskProblems.filter((problem) => !problem.path.startsWith('staging.volumes'));
  const warnings = checked.warnings.length > 0 ? ` (${checked.warnings.length} warning(s) printed above)` : '';
  if (problems.length === 0) return [{ scope: 'config', check: 'valid', status: 'pass', detail: `${checked.config.file} is valid${warnings}` }];
  return problems.map((problem) => ({ scope: 'config', check: 'paths', status: 'fail', detail: formatDiagnostic(problem), fix: 'fix that field, then run `dualsync validate`' }));
}

/** Runs every check (the independent ones at once) and returns them in a stable order. */
export async function runDoctor(checked: CheckedConfig, options: DoctorOptions): Promise<DoctorReport> {
  const { config } = checked;
  const [source, destination, s5cmd, outposts, volumes, state] = await Promise.all([
    hopChecks('source', config, checked.text, options),
    hopChecks('destination', config, checked.text, options),
    s5cmdCheck(options.env),
    outpostsCheck(options.env, config),
    allVolumeChecks(config),
    stateChecks(config),
  ]);
  return doctorReport(config.file, [...configChecks(checked), ...source, ...destination, s5cmd, ...outposts, ...volumes, ...state]);
}
