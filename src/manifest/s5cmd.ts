/**
 * Plan -> s5cmd run files, one per hop (each hop has its own endpoint and credentials). Pure.
 * Credentials never appear here: s5cmd gets them from its environment.
 *
 * How `s5cmd run` (2.2.2, command/run.go) reads a file: it splits at '\n', trims each line
 * (strings.TrimSpace), ignores empty lines and lines starting with '#', and splits the rest
 * into words with github.com/kballard/go-shellquote, i.e. /bin/sh word splitting without any
 * expansion. Inside double quotes a backslash escapes only `$`, backtick, `"`, `\` and newline,
 * and is kept literally before anything else. {@link quoteWord} is written against exactly that.
 */
import { assert } from '../errors.ts';
import type { Config, HopConfig } from '../model/config.ts';
import type { Action, ActionKind, HopSettings, Plan } from '../model/plan.ts';
import { actionsOfKinds, countOfKinds } from './spool.ts';
import { localPath, tempPath } from '../plan/volume-paths.ts';
import { s5cmdBucket } from '../config/outposts.ts';
import type { Hop } from '../model/apply.ts';
import type { Side } from '../model/side.ts';

const MIB = 1024 * 1024;

/** Anything quoteWord must escape or refuse; most keys hold none of it. */
const SPECIAL = /[\\"$`\n\r\0]/;

/**
 * One word of a run file line, double-quoted so that go-shellquote gives back exactly `word`:
 * spaces, single quotes and unicode need nothing; `\`, `"`, `$` and backtick get a backslash
 * (the last two also keep a line pasted into a shell inert). A line break cannot be carried:
 * run splits lines before it unquotes, so keys holding one are skipped long before this.
 */
export function quoteWord(word: string): string {
  if (!SPECIAL.test(word)) return `"${word}"`;
  assert(!/[\n\r\0]/.test(word), `${JSON.stringify(word)} holds a line break or NUL, which an s5cmd run file cannot carry`);
  return `"${word.replace(/[\\"$`]/g, '\\$&')}"`;
}

/**
 * One line from its words. A join builds each line as one flat string: a million lines made of
 * template pieces would otherwise each stay a tree of string fragments until written.
 */
function line(words: string[]): string {
  return words.join(' ');
}

/** An object's s3:// URL as s5cmd reads it (an Outposts access point ARN in its `:` form: s5cmd cuts the bucket at the first `/`). */
function s3Url(bucket: string, prefix: string, key: string): string {
  return `s3://${s5cmdBucket(bucket)}/${prefix}${key}`;
}

function volumeOf(action: Action): string {
  assert(action.volume !== undefined, `${action.kind} of ${JSON.stringify(action.key)} has no volume`);
  return action.volume;
}

/**
 * The run file line that downloads `action` (download or redownload) into its temporary path.
 * `--raw` because `*`, `?` and `[` in a key are characters, never wildcards.
 */
export function downloadLine(action: Action, config: Config, hop: HopSettings): string {
  assert(action.kind === 'download' || action.kind === 'redownload', `downloadLine given a ${action.kind} action`);
  const source = s3Url(config.source.bucket, config.source.prefix, action.key);
  return line(['cp --raw --concurrency', String(hop.concurrency), quoteWord(source), quoteWord(tempPath(volumeOf(action), action.key))]);
}

/** The run file line that uploads `action`'s staged copy, in multipart parts of the configured size. */
export function uploadLine(action: Action, config: Config, hop: HopSettings): string {
  assert(action.kind === 'upload', `uploadLine given a ${action.kind} action`);
  const partSizeMib = config.transfer.partSizeBytes / MIB;
  assert(Number.isInteger(partSizeMib) && partSizeMib >= 1, `transfer.partSizeBytes ${config.transfer.partSizeBytes} is not a whole number of MiB`);
  const destination = s3Url(config.destination.bucket, config.destination.prefix, action.key);
  return line(['cp --raw --concurrency', String(hop.concurrency), '--part-size', String(partSizeMib), quoteWord(localPath(volumeOf(action), action.key)), quoteWord(destination)]);
}

/** A comment must stay one line, whatever a prefix holds. */
function commentText(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}

function header(hop: Hop, lines: number, settings: HopSettings, config: Config): string {
  const route = commentText(
    hop === 'download'
      ? `s3://${config.source.bucket}/${config.source.prefix} -> staging volumes`
      : `staging volumes -> s3://${config.destination.bucket}/${config.destination.prefix}`,
  );
  return [`# dualsync ${hop} manifest: ${lines} ${lines === 1 ? 'object' : 'objects'}, ${route}`, ...byHand(hop === 'download' ? 'source' : 'destination', config.source, config.destination, settings)].join('\n');
}

/** A word for a shell command line: as it is when plain, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * The "By hand:" comment: the shell command that runs this file as apply runs it, so that it
 * works copied as printed (a Snowball needs AWS_REGION=snow, its CA bundle and its endpoint).
 * The same facts as s5cmdEnv and s5cmdGlobalArgs (src/apply/s5cmd.ts) without --json; the
 * credentials are named, never written. A proxy is named only: its URL may hold a password.
 */
export function byHand(side: Side, source: HopConfig, destination: HopConfig, settings: HopSettings): string[] {
  const hop = side === 'source' ? source : destination;
  const env = [`AWS_REGION=${shellWord(hop.region)}`];
  if (hop.tls.caBundle !== undefined && hop.tls.verify) env.push(`AWS_CA_BUNDLE=${shellWord(hop.tls.caBundle)}`);
  if (hop.credentials.kind === 'profile') env.push(`AWS_PROFILE=${shellWord(hop.credentials.profile)}`);
  const workers = hop.maxConnections === undefined ? settings.workers : Math.max(1, Math.min(settings.workers, hop.maxConnections));
  const flags = [`--numworkers ${workers}`];
  if (hop.endpoint !== undefined) flags.push(`--endpoint-url ${shellWord(hop.endpoint)}`);
  if (!hop.tls.verify) flags.push('--no-verify-ssl');
  if (hop.listApi === 'v1') flags.push('--use-list-objects-v1');
  const lines = [`# By hand: ${env.join(' ')} s5cmd ${flags.join(' ')} run <this file>`];
  if (hop.credentials.kind === 'static') lines.push(`#   with the ${side}'s keys exported as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY${hop.credentials.sessionToken === undefined ? '' : ' (and AWS_SESSION_TOKEN)'}.`);
  else if (hop.credentials.kind === 'default') lines.push('#   with credentials from the default AWS chain (environment, ~/.aws, instance role).');
  if (hop.proxy !== undefined) lines.push(`#   and HTTPS_PROXY set to ${side}.proxy from the config.`);
  return lines.map(commentText);
}

/** Lines per chunk: a chunk of this many lines is large enough to live outside the young heap. */
const CHUNK_LINES = 1024;

/** Lines joined into chunks and handed on: a million short-lived lines never all survive at once. */
class RunFile {
  private pending: string[] = [];
  private readonly emit: (piece: string) => void;

  constructor(emit: (piece: string) => void) {
    this.emit = emit;
  }

  add(line: string): void {
    this.pending.push(line);
    if (this.pending.length === CHUNK_LINES) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.pending.push('');
    this.emit(this.pending.join('\n'));
    this.pending = [];
  }
}

/** The kinds of action each run file carries. */
export const HOP_KINDS: Record<Hop, readonly ActionKind[]> = { download: ['download', 'redownload'], upload: ['upload'] };

/**
 * The download or upload run file's pieces, header first, to `emit`; joined, they are that file's
 * text. Only the hop's kinds are read: a plan of millions of adopts is not read through for them.
 */
function writeRunFile(plan: Plan, config: Config, hop: Hop, emit: (piece: string) => void): void {
  const kinds = HOP_KINDS[hop];
  emit(`${header(hop, countOfKinds(plan.actions, kinds), plan.hops[hop], config)}\n`);
  const file = new RunFile(emit);
  for (const action of actionsOfKinds(plan.actions, kinds)) {
    file.add(hop === 'download' ? downloadLine(action, config, plan.hops.download) : uploadLine(action, config, plan.hops.upload));
  }
  file.flush();
}

/**
 * Writes both run files piece by piece (see {@link renderManifests} for their content), for plans
 * whose run files would exceed V8's limit on one string (about 2^29 characters).
 */
export function writeManifests(plan: Plan, config: Config, sink: { download: (piece: string) => void; upload: (piece: string) => void }): void {
  writeRunFile(plan, config, 'download', sink.download);
  writeRunFile(plan, config, 'upload', sink.upload);
}

/**
 * Both run files of a plan: one line per download/redownload in download.s5cmd and one per
 * upload in upload.s5cmd, in plan order, after a `#` header (run skips comment lines). Each ends
 * with a newline.
 */
export function renderManifests(plan: Plan, config: Config): { download: string; upload: string } {
  const download: string[] = [];
  const upload: string[] = [];
  writeManifests(plan, config, { download: (piece) => download.push(piece), upload: (piece) => upload.push(piece) });
  return { download: download.join(''), upload: upload.join('') };
}
