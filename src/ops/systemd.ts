/**
 * A systemd service unit that runs `dualsync watch` for one config (`dualsync init --systemd`,
 * and the shipped deploy/systemd/dualsync.service, which is this unit for the documented
 * paths). What each setting is for:
 *
 * - The stop: `watch` finishes its current cycle on the first SIGTERM and stops its transfers on
 *   the second (src/cli/signals.ts). `KillMode=mixed` sends that SIGTERM to dualsync alone (the
 *   default, control-group, would also kill every s5cmd at once); after `TimeoutStopSec` systemd
 *   sends SIGKILL to everything left in the unit, s5cmd included. Then what was in flight is
 *   redone by the next start: the ledger only records what was verified, and the next run stops
 *   any recorded s5cmd still alive and removes partial downloads (src/apply/children.ts).
 * - Secrets come from an `EnvironmentFile` (read by systemd as root, before it drops to `User=`),
 *   never from the unit, which every user can read (`systemctl cat`).
 * - Hardening that dualsync survives: the whole file system read-only (`ProtectSystem=strict`)
 *   except the state directory and the staging volumes (`ReadWritePaths=`), home folders
 *   read-only (a checkout or a profile's credentials may live there), no new privileges, no
 *   devices (watch needs none; `volumes provision` is not run by the service). Not
 *   `MemoryDenyWriteExecute=` (V8 compiles to executable memory), and no capability bounding: a
 *   unit that runs as root must still write volumes owned by another user.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { userError } from '../errors.ts';

/** How long systemd waits after the first SIGTERM before it kills everything: one cycle's work. */
export const DEFAULT_STOP_TIMEOUT = '15min';
/** Where the docs and the shipped unit keep the secrets. */
export const DEFAULT_ENVIRONMENT_FILE = '/etc/dualsync/dualsync.env';

/** The dualsync that a unit starts: the release's single executable, or a checkout's launcher run by a Node. */
export type ServiceExecutable =
  | { kind: 'release'; path: string }
  | { kind: 'launcher'; path: string; node: string }
  /** Where an install puts `dualsync` on the PATH (the shipped unit, written for no one install). */
  | { kind: 'installed'; path: string };

export interface ServiceUnitInput {
  /** The config's absolute path. */
  configFile: string;
  executable: ServiceExecutable;
  user: string;
  environmentFile: string;
  /** The state directory (absolute). */
  stateDir: string;
  /** staging.volumes as the config resolves them: absolute directories or globs. */
  volumes: readonly string[];
  /** systemd's time span for TimeoutStopSec (e.g. 15min). */
  stopTimeout?: string;
  /** A first comment line (who wrote the unit); the shipped unit says where to find the docs instead. */
  header?: string;
}

/** The search path a service gets from systemd, after the folder of the Node that runs a checkout's launcher. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A word as systemd reads it in a unit: quoted when it holds a space, a quote or a backslash,
 * `%` doubled (specifiers), and in command lines `$` doubled (variable expansion).
 */
export function systemdWord(word: string, options: { command?: boolean } = {}): string {
  if (/[\n\r\0]/.test(word)) {
    throw userError('E_USAGE', `${JSON.stringify(word)} holds a line break, which a systemd unit cannot carry`, { hint: 'rename the file or folder' });
  }
  let text = word.replaceAll('%', '%%');
  if (options.command) text = text.replaceAll('$', '$$$$');
  return /[\s"'\\;]/.test(text) ? `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : text;
}

/**
 * The folders a volume entry can write to: the directory itself, or for a glob the folder above
 * its first wildcard (volumes that match later are then writable too).
 */
export function writableFolder(volume: string): string {
  const wildcard = volume.search(/[*?[{]/);
  if (wildcard === -1) return volume;
  const fixed = volume.slice(0, wildcard);
  return fixed.endsWith('/') ? fixed.replace(/(.)\/$/, '$1') : dirname(fixed);
}

function isUnder(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

/** The state directory and the volumes' folders, without one that another already holds. */
export function writablePaths(stateDir: string, volumes: readonly string[]): string[] {
  const all = [...new Set([stateDir, ...volumes.map(writableFolder)])];
  return all.filter((path) => !all.some((other) => other !== path && isUnder(path, other)));
}

/** The text of the unit. Pure: every path comes in as an argument. */
export function systemdUnit(input: ServiceUnitInput): string {
  const { executable } = input;
  const writable = writablePaths(input.stateDir, input.volumes);
  // A private /tmp would hide a state directory or a volume that lives in /tmp.
  const inTmp = writable.some((path) => isUnder(path, '/tmp') || isUnder(path, '/var/tmp'));
  const execStart = [executable.path, 'watch', '-c', input.configFile].map((word) => systemdWord(word, { command: true })).join(' ');
  const how = {
    release: '# ExecStart: the release executable that wrote this unit. After an upgrade into another folder,\n# write the unit again with the new one (or point this line at it).',
    launcher: '# ExecStart: the launcher of the checkout that wrote this unit (its real path, not the npm link),\n# run by the Node that ran it (PATH below). After moving the checkout, write the unit again.',
    installed: "# ExecStart: where the install puts dualsync (`command -v dualsync`): the release's link\n# (docs/release.md) or npm link's, in $(npm prefix -g)/bin. `dualsync init --systemd` fills it in.",
  }[executable.kind];
  const lines = [
    input.header ?? `# dualsync watch for ${input.configFile}, written by \`dualsync init --systemd\`.`,
    '# Install, secrets, logs and upgrades: docs/operations.md, "Run it as a service".',
    '[Unit]',
    `Description=dualsync watch (${input.configFile.replaceAll('%', '%%')})`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=exec',
    `User=${systemdWord(input.user)}`,
    `WorkingDirectory=${systemdWord(dirname(input.configFile))}`,
    how,
    `ExecStart=${execStart}`,
    ...(executable.kind === 'launcher' ? [`Environment=${systemdWord(`PATH=${dirname(executable.node)}:${SYSTEM_PATH}`)}`] : []),
    '# The credentials that sync.yaml refers to as ${VAR}: root-owned, chmod 600.',
    `EnvironmentFile=${systemdWord(input.environmentFile)}`,
    '# A retryable error never ends watch; one that ends it (bad credentials, a broken ledger) is retried later.',
    'Restart=on-failure',
    'RestartSec=30s',
    '# The first SIGTERM goes to dualsync alone: it finishes the current cycle and stops its s5cmd itself.',
    '# At the timeout, SIGKILL to everything: what was in flight is redone by the next start.',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${input.stopTimeout ?? DEFAULT_STOP_TIMEOUT}`,
    '# Hardening: only the state directory and the staging volumes are writable.',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    `ReadWritePaths=${writable.map((path) => systemdWord(path)).join(' ')}`,
    ...(inTmp ? [] : ['PrivateTmp=yes']),
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectHostname=yes',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/**
 * What is wrong with the environment file for a service, as a warning: readable by other users
 * (it holds the secrets), or missing. Undefined when it is fine.
 */
export async function environmentFileProblem(path: string): Promise<string | undefined> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `${path} does not exist yet: create it with the credentials' variables (VAR=value lines), then chmod 600 ${path}`;
    return `cannot check ${path}: ${(error as Error).message}`;
  }
  if ((info.mode & 0o004) !== 0) return `${path} is readable by every user (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}) and holds the secrets: chmod 600 ${path}`;
  return undefined;
}
