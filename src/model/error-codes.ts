/**
 * Every error code dualsync reports, with its kind and what it means for the operator. The
 * `ErrorCode` type is derived from this table, so `userError`/`opError` refuse a code it does
 * not hold, and docs/operations.md ("Error codes") is generated from it by
 * scripts/gen-error-docs.ts. Adding a code is one line here (keep the order alphabetical), then
 * `npm run docs:errors`.
 *
 * `kind` is the kind (or kinds) the code is raised with: `userError` takes only codes with
 * 'user', `opError` only those with 'operational'.
 */

/**
 * - user: a mistake the operator can fix (config, flag, files): message and hint, no stack;
 * - operational: a known failure of the world (network, server, disk), retryable or not;
 * - internal: a broken rule inside dualsync, a bug: the stack, and a request to report it.
 */
export type ErrorKind = 'user' | 'operational' | 'internal';

export interface ErrorCodeInfo {
  kind: ErrorKind | readonly ErrorKind[];
  /** One sentence for the operator: what happened, and what to do. */
  meaning: string;
}

export const ERROR_CODES = {
  E_ABORTED: { kind: 'operational', meaning: 'A listing or a volume scan was stopped (Ctrl-C, SIGTERM, or watch stopping); run the command again.' },
  E_ASSERT: { kind: 'internal', meaning: 'A rule dualsync relies on did not hold ("assertion failed"): a bug; report it with the stack that was printed.' },
  E_CA_BUNDLE: { kind: 'user', meaning: 'The PEM file named by `tls.caBundle` cannot be read; point it at a readable file (for a Snowball, the output of `snowballEdge get-certificate`).' },
  E_CONFIG: { kind: 'user', meaning: 'sync.yaml has problems, listed one per line as `file:line:col  field: message`; fix them, then run `dualsync validate`.' },
  E_CONFIG_MISSING: { kind: 'user', meaning: 'The config file does not exist (or is a directory); run `dualsync init` to write one, or point `-c`/`DUALSYNC_CONFIG` at it.' },
  E_CONFIG_UNREADABLE: { kind: 'user', meaning: 'The config file exists but cannot be read; check its permissions.' },
  E_CONFIRM: { kind: 'user', meaning: 'The command needs a yes and there is no terminal to ask on; run it on a terminal, or pass `--yes` (`--auto-approve` for apply) after checking what it will do.' },
  E_CONTENT_CHANGED: { kind: 'operational', meaning: 'An object changed at the source between the plan and its transfer; the next plan picks up the new version.' },
  E_CONTENT_SHORT: { kind: 'operational', meaning: 'Reading an object returned fewer bytes than it has; retried, as the link or the server cut it short.' },
  E_CREDENTIALS_UNSET: { kind: 'user', meaning: 'The environment variables that hold a hop\'s credentials are not set; set them where dualsync runs.' },
  E_DURATION: { kind: 'user', meaning: 'A duration is not written as a number with a unit; write it like `30s`, `5m` or `1h30m`.' },
  E_GLOB: { kind: 'user', meaning: 'A filter pattern is not a valid glob (such as a range from high to low); fix the pattern as the hint says.' },
  E_HOPS_UNREACHABLE: { kind: 'operational', meaning: 'Neither endpoint answered, so nothing can move; check both links and servers, watch retries with a backoff.' },
  E_HOP_UNREACHABLE: { kind: 'operational', meaning: 'One hop\'s endpoint did not answer in time; the other hop keeps working and the next cycle tries again (`dualsync doctor` probes it).' },
  E_INIT_EXISTS: { kind: 'user', meaning: '`dualsync init` would overwrite an existing file; pass `--force` to replace it, or `--out` to write another.' },
  E_INIT_PATH: { kind: 'user', meaning: '`dualsync init` cannot write where `--out` points (no such folder, or a directory); create the folder or give a file name.' },
  E_INTERNAL: { kind: 'internal', meaning: 'An unexpected error, a bug in dualsync (the `--json` code for it); report it with the stack that was printed.' },
  E_LEDGER_BUSY: { kind: 'operational', meaning: 'Another dualsync held the ledger for a long write (a migration?); retry in a moment.' },
  E_LEDGER_CONFLICT: { kind: 'user', meaning: 'The state directory holds both ledger.db and an older JSON ledger never migrated into it; keep a copy, then move aside the one not in use.' },
  E_LEDGER_CORRUPT: { kind: 'user', meaning: 'The ledger is damaged, and it is the only record of what was delivered; never delete it: keep a copy of the state directory, then repair the copy (the hint says how) or restore a backup.' },
  E_LEDGER_LOST: { kind: 'user', meaning: 'The ledger of a state directory that has been used is missing, emptied or older than its last commit; restore it from a backup as the hint says, or start over with `dualsync reset`: it is never taken as a fresh start.' },
  E_LEDGER_NEWER: { kind: 'user', meaning: 'The ledger was written by a newer dualsync; upgrade to that version, as an older one must not rewrite it.' },
  E_LEDGER_READ: { kind: 'operational', meaning: 'The ledger cannot be read; check that the state directory and its `ledger.db*` files are readable and writable by this user.' },
  E_LEDGER_WRITE: { kind: 'operational', meaning: 'A write to the ledger failed; check free space and the health of the state directory\'s disk (nothing half-written is kept).' },
  E_LEGACY: { kind: 'user', meaning: '`dualsync import-legacy` cannot read or convert the old config.yaml; fix the problems it lists, or write sync.yaml by hand.' },
  E_LEGACY_EXISTS: { kind: 'user', meaning: '`dualsync import-legacy` would overwrite an existing file; pass `--force` to replace it, or `--out` to write another.' },
  E_LISTING_SPOOL: { kind: 'operational', meaning: 'The temporary file that sorts a v1 listing could not be written or read; free space in the temporary directory, or let dualsync write there.' },
  E_LOCKED: { kind: 'user', meaning: 'Another dualsync (named in the message) holds the state directory\'s lock; wait for it, or stop it (`watch` holds the lock for its whole life).' },
  E_LOCK_WRITE: { kind: 'operational', meaning: 'The lock file cannot be written in the state directory; check its permissions and free space.' },
  E_LSBLK: { kind: ['user', 'operational'], meaning: 'The lsblk output cannot be read (not JSON, missing fields) or lsblk failed; give the output of the lsblk command the hint shows.' },
  E_NOT_ROOT: { kind: 'user', meaning: 'Partitioning, formatting and mounting need root; run the same command with sudo.' },
  E_ORPHAN_ALIVE: { kind: 'operational', meaning: 'An s5cmd that an earlier run of this state directory started is still alive and could not be stopped; kill the pid named in the message, then run again.' },
  E_PATH_MISSING: { kind: 'operational', meaning: 'A file dualsync expected below a volume (a finished download) is gone; the object is redone by the next run.' },
  E_PATH_NOT_FILE: { kind: 'operational', meaning: 'Something other than a regular file stands where dualsync stages an object; remove it, and the next run stages the object again.' },
  E_PATH_NOT_FOLDER: { kind: 'operational', meaning: 'Something other than a folder stands where dualsync needs a folder below a volume; remove it, and the next run goes on.' },
  E_PATH_SYMLINK: { kind: 'operational', meaning: 'A symbolic link stands below a volume root where dualsync writes; nothing was written through it: replace it with a real folder if staging should go there.' },
  E_PLAN_FILE: { kind: 'user', meaning: 'The file given to `apply` is not a plan file as dualsync writes it (not JSON, cut short, or with a field the format does not allow); make a new plan with `dualsync plan --out FILE`.' },
  E_PLAN_FILE_NEWER: { kind: 'user', meaning: 'The plan file was written by a newer dualsync; apply it with that version, or make a new plan with this one.' },
  E_PLAN_MISSING: { kind: 'user', meaning: 'The plan file given to `apply` cannot be read; make one with `dualsync plan --out FILE`.' },
  E_PLAN_STALE: { kind: 'user', meaning: 'The world moved since the saved plan was made (config, listings, volumes or ledger); make a fresh plan and review it, or run `dualsync apply` without a plan file.' },
  E_PLAN_TAMPERED: { kind: 'user', meaning: 'The saved plan or its manifests were changed after they were written; make a new plan: a saved plan is applied as reviewed or not at all.' },
  E_PROVISION_BASE: { kind: 'user', meaning: '`--base` of `dualsync volumes provision` is not an absolute path without spaces; write it like `/srv/dualsync/volume-`.' },
  E_PROVISION_FAILED: { kind: 'user', meaning: 'A partitioning, formatting or mounting command failed and provisioning stopped there; fix the cause shown, check `lsblk`, and run it again.' },
  E_RESET_CONFLICT: { kind: 'user', meaning: 'A rerun of an interrupted `reset` found a ledger file in the state directory that the reset did not make (its backup folder holds one by that name already, or it holds more than the new chain\'s first event); nothing was moved or overwritten: move that file out of the state directory as the hint says, then run `dualsync reset` again.' },
  E_RESET_UNFINISHED: { kind: 'user', meaning: 'A `reset` was interrupted (`reset-unfinished.json` is in the state directory), so `plan`, `apply` and `watch` refuse to use the half-reset state directory, and `status`, `report` and `check` name it when they find its ledger gone; run `dualsync reset` again to finish it.' },
  E_RESET_UNSAFE: { kind: 'user', meaning: 'A staging volume holds the system, the config file or the state directory, so `reset` refuses to touch it; point `staging.volumes` at directories that hold only staged data.' },
  E_S3_ACCESS: { kind: 'operational', meaning: 'The endpoint refused the hop\'s credentials or their permissions; check the access key, the secret and the bucket policy (`dualsync doctor` names the hop).' },
  E_S3_FAILED: { kind: 'operational', meaning: 'An S3 request failed (server or network); when retryable, a later run or cycle tries again, otherwise read the message.' },
  E_S3_LIST_LOOP: { kind: 'operational', meaning: 'The server repeated a continuation token or marker, so the listing was stopped; try `listApi: v1` on that hop, or report the server.' },
  E_S3_LIST_ORDER: { kind: 'operational', meaning: 'The server\'s ListObjectsV2 pages are not in key order; set `listApi: v1` for that hop and dualsync sorts the listing itself.' },
  E_S3_LIST_TRUNCATED: { kind: 'operational', meaning: 'The server said a listing was truncated but gave nothing to continue from; try `listApi: v1` on that hop.' },
  E_S3_NO_BUCKET: { kind: 'operational', meaning: 'The bucket does not exist at that endpoint; check `bucket` and `endpoint` for the hop (watch keeps trying, a Snowball may still be unlocking).' },
  E_S3_TLS: { kind: 'operational', meaning: 'The TLS handshake failed (untrusted or wrong certificate); trust the device\'s certificate with `tls.caBundle`, as the hint says.' },
  E_S5CMD_ADDRESSING: { kind: 'user', meaning: 's5cmd cannot use virtual-hosted addressing with a custom endpoint; set `addressing: path` for that hop.' },
  E_S5CMD_BROKEN: { kind: 'user', meaning: 'The s5cmd binary found did not answer `s5cmd version`; install a working s5cmd 2.2.2 or newer.' },
  E_S5CMD_MISSING: { kind: 'user', meaning: 's5cmd was not found (DUALSYNC_S5CMD, .tools/s5cmd, PATH); install it with `npm run tools`, or set DUALSYNC_S5CMD.' },
  E_S5CMD_OUTPOSTS: { kind: 'user', meaning: 'The s5cmd found is older than 2.3.0 and cannot sign S3 on Outposts requests; use s5cmd 2.3.0 or newer.' },
  E_S5CMD_VERSION: { kind: 'user', meaning: 'The s5cmd found is older than 2.2.2; install a newer one.' },
  E_SIZE: { kind: 'user', meaning: 'A size or reserve is not written as dualsync reads it; write a byte count or a number with a unit (`500GiB`), or a percentage (`5%`).' },
  E_SPOOL_CORRUPT: { kind: 'operational', meaning: 'A file of spooled actions did not read back as it was written (cut short, or a field that is not a number); run again, and if it repeats check the state directory\'s disk.' },
  E_STATE_DIR_COPY: { kind: 'user', meaning: 'This state directory is a copy of the one that claimed the volumes; use the original, or give this config a new, empty state directory (the hint says how to hand volumes over).' },
  E_STATE_DISK_FULL: { kind: 'operational', meaning: 'The disk that holds the state directory is full; free space there (or move `stateDir`) and run again: what was not recorded is redone.' },
  E_STATE_ID: { kind: 'operational', meaning: 'The state directory\'s id file cannot be read or was damaged; restore it from a backup of the state directory (its volumes name it in `.dualsync-volume`).' },
  E_USAGE: { kind: 'user', meaning: 'The command line is wrong (an unknown option, a bad value, options that do not go together); see `dualsync COMMAND --help`.' },
  E_VOLUME_CLAIM: { kind: ['user', 'operational'], meaning: 'A volume\'s claim file `.dualsync-volume` cannot be read or is not a dualsync claim; if no other config uses the volume, release it with `dualsync volumes release --force`.' },
  E_VOLUME_CLAIMED: { kind: 'user', meaning: 'A staging volume belongs to another state directory (another config, or a copied state directory); fix `staging.volumes`, or release it with `dualsync volumes release` from its owner.' },
  E_VOLUME_LINK: { kind: 'user', meaning: '`reset` found a symbolic link where it expected a folder, and leaves it and what it points to alone; remove it by hand after checking, then reset again.' },
  E_VOLUME_MISSING: { kind: 'user', meaning: 'A staging volume does not exist; mount the disk there, or fix `staging.volumes` (`dualsync volumes provision` prepares volumes).' },
  E_VOLUME_NESTED: { kind: 'user', meaning: 'A staging volume is listed twice or lies inside another; list volumes that do not contain each other.' },
  E_VOLUME_NOT_DIR: { kind: 'user', meaning: 'A staging volume is not a directory; list directories (or globs matching directories) in `staging.volumes`.' },
  E_VOLUME_SCAN: { kind: 'operational', meaning: 'A staging volume cannot be read (its files or free space); check the disk and its permissions.' },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A code from {@link ERROR_CODES}; a code it does not hold is a type error. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The kinds a code is raised with, as a union. */
type KindsOf<Code extends ErrorCode> = (typeof ERROR_CODES)[Code]['kind'] extends infer Kind ? (Kind extends readonly (infer Each)[] ? Each : Kind) : never;

/** The codes that may be raised with `kind`. */
export type ErrorCodeOf<Kind extends ErrorKind> = { [Code in ErrorCode]: Kind extends KindsOf<Code> ? Code : never }[ErrorCode];

/** The kinds of `code` as a list. */
export function kindsOf(code: ErrorCode): readonly ErrorKind[] {
  const kind: ErrorCodeInfo['kind'] = ERROR_CODES[code].kind;
  return typeof kind === 'string' ? [kind] : kind;
}
