import { realpathSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import { STARTER_VARIABLES, starterConfig } from '../../config/template.ts';
import { userError } from '../../errors.ts';
import { DEFAULT_ENVIRONMENT_FILE, DEFAULT_STOP_TIMEOUT, environmentFileProblem, systemdUnit, writableFolder, type ServiceExecutable } from '../../ops/systemd.ts';
import { inSingleExecutable } from '../../sea.ts';
import { BaseCommand } from '../base.ts';

/**
 * The dualsync that runs now, as a service should start it: the release executable itself, or
 * the checkout's launcher by its real path (`npm link` reaches it through a symlink in
 * $(npm prefix -g)/bin), with the Node that runs it.
 */
function runningExecutable(): ServiceExecutable {
  if (inSingleExecutable) return { kind: 'release', path: process.execPath };
  const launcher = process.argv[1];
  if (launcher === undefined) throw userError('E_USAGE', 'cannot tell where this dualsync was started from', { hint: 'run init --systemd through bin/dualsync or the release executable' });
  return { kind: 'launcher', path: realpathSync(launcher), node: process.execPath };
}

export class InitCommand extends BaseCommand {
  static override paths = [['init']];
  static override usage = Command.Usage({
    description: 'write a commented starter sync.yaml',
    details: `
      Writes a starter config for the common case (a Snowball Edge source, an AWS destination)
      with every field commented. It never overwrites an existing file unless \`--force\` is given.
      The file refers to its schema, so editors with yaml-language-server complete and check it.

      The target is \`--out\`, else \`-c/--config\`, else \`$DUALSYNC_CONFIG\`, else ./sync.yaml.

      With \`--systemd\`, writes instead a systemd service unit that runs \`dualsync watch\` for the
      config given with \`-c\` (to \`--out\`, else to stdout): the config's absolute path, this
      dualsync's path (the release executable, or a checkout's launcher by its real path, run by
      the Node running now), the credentials from \`--environment-file\` (warned about when other users
      can read it), a graceful stop, restart on failure, and only the state directory and the
      staging volumes writable. See docs/operations.md, "Run it as a service".
    `,
    examples: [
      ['Start a config in the current folder', 'dualsync init'],
      ['Write it somewhere else', 'dualsync init --out /etc/dualsync/site7.yaml'],
      ['Start over, replacing an existing file', 'dualsync init --force'],
      ['A service unit for a config', 'dualsync init --systemd -c /etc/dualsync/sync.yaml --user dualsync --out /etc/systemd/system/dualsync.service'],
    ],
  });

  force = Option.Boolean('--force', false, { description: 'Overwrite an existing file' });
  out = Option.String('--out', { description: 'Where to write the file (default: -c, else ./sync.yaml; with --systemd: stdout)' });
  /** The earlier name of --out, kept so that scripts written for it still work. */
  legacyPath = Option.String('--path', { hidden: true });
  systemd = Option.Boolean('--systemd', false, { description: 'Write a systemd service unit that runs watch for the config (-c) instead' });
  // Not --env-file: Node 24 takes that word for its own option even after the script, and exits.
  envFile = Option.String('--environment-file', DEFAULT_ENVIRONMENT_FILE, { description: `With --systemd: the file of the credentials' variables (default ${DEFAULT_ENVIRONMENT_FILE})` });
  user = Option.String('--user', { description: 'With --systemd: the user the service runs as (default: the current user)' });
  stopTimeout = Option.String('--stop-timeout', DEFAULT_STOP_TIMEOUT, { description: `With --systemd: how long a stop may finish the cycle before everything is killed (default ${DEFAULT_STOP_TIMEOUT})` });

  async run(): Promise<number> {
    if (this.systemd) return this.writeUnit();
    const target = this.out ?? this.legacyPath ?? this.configPath();
    const { schemaReferenceFrom } = await import('../../config/load.ts');
    const text = starterConfig(schemaReferenceFrom(dirname(resolve(target))));
    await this.writeNew(target, text);
    const validate = target === 'sync.yaml' ? 'dualsync validate' : `dualsync validate -c ${target}`;
    this.context.stdout.write(
      [
        `Wrote ${target}. Next:`,
        '  1. Edit it: buckets, prefixes, the Snowball endpoint and certificate, the staging volumes.',
        `  2. Set ${STARTER_VARIABLES.join(' and ')} where dualsync runs (or use a profile).`,
        `  3. Check it: ${validate}`,
        '',
      ].join('\n'),
    );
    return 0;
  }

  /** `init --systemd`: the unit for the config at -c, to --out or stdout, with its warnings on stderr. */
  async writeUnit(): Promise<number> {
    const { loadConfigFor } = await import('../context.ts');
    const config = await loadConfigFor(this.context, this.configPath());
    const executable = runningExecutable();
    if (!/^[1-9]\d*(us|ms|s|sec|min|m|h|hr|d)?$/.test(this.stopTimeout)) {
      throw userError('E_USAGE', `--stop-timeout ${this.stopTimeout}: not a time systemd reads`, { hint: 'write a number with a unit, e.g. 15min, 1h or 90s' });
    }
    const unit = systemdUnit({
      configFile: config.file,
      executable,
      user: this.user ?? userInfo().username,
      environmentFile: resolve(this.envFile),
      stateDir: config.stateDir,
      volumes: config.staging.volumes,
      stopTimeout: this.stopTimeout,
    });
    const warnings: string[] = [];
    const envProblem = await environmentFileProblem(resolve(this.envFile));
    if (envProblem !== undefined) warnings.push(envProblem);
    // ProtectSystem=strict makes every other folder read-only, so a missing one cannot be created by the service.
    for (const folder of [config.stateDir, ...config.staging.volumes.map(writableFolder)]) {
      if (!(await stat(folder).then((s) => s.isDirectory(), () => false))) warnings.push(`${folder} does not exist: create it, owned by the service's user, before starting the unit (it is the only place the unit may write)`);
    }
    const out = this.out ?? this.legacyPath;
    if (out === undefined) {
      this.context.stdout.write(unit);
    } else {
      await this.writeNew(out, unit);
      this.context.stdout.write(`Wrote ${out}: dualsync watch -c ${config.file}, started as ${executable.path} (the dualsync that ran this command).\n`);
    }
    for (const warning of warnings) this.context.stderr.write(`Warning: ${warning}\n`);
    return 0;
  }

  /** Writes `text` to `target`, refusing an existing file unless --force. */
  async writeNew(target: string, text: string): Promise<void> {
    try {
      // 'wx' refuses an existing file in the same call that creates it, so nothing is lost to a race.
      await writeFile(target, text, { flag: this.force ? 'w' : 'wx' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw userError('E_INIT_EXISTS', `${target} already exists`, { hint: 'pass --force to replace it, or --out to write another file' });
      if (code === 'ENOENT') throw userError('E_INIT_PATH', `cannot write ${target}: its folder does not exist`, { hint: 'create the folder first, or choose another --out' });
      if (code === 'EISDIR') throw userError('E_INIT_PATH', `cannot write ${target}: it is a directory`, { hint: 'give a file name, e.g. --out site7/sync.yaml' });
      throw error;
    }
  }
}
