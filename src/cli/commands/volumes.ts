import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { formatBytes } from '../../config/units.ts';
import { CLAIM_FILE } from '../../model/volume-layout.ts';
import { userError } from '../../errors.ts';
import type { ReleasePlan } from '../../ops/release.ts';
import type { Filesystem } from '../../ops/provision.ts';

export class VolumesListCommand extends BaseCommand {
  static override paths = [['volumes', 'list'], ['volumes']];
  static override usage = Command.Usage({
    description: 'show each staging volume: mount point, filesystem, space, reserve and staged bytes',
    details: `
      Reads staging.volumes from the config and shows, for each directory, the filesystem it is
      on (from /proc/self/mountinfo), its size and free space, the reserve dualsync keeps free,
      and the files staged on it. A volume on the root filesystem is pointed out: after a reboot
      without an /etc/fstab entry, a data disk is not mounted and staging would fill the system
      disk. A missing volume is shown as a problem; the others are still listed.
    `,
    examples: [
      ['Show the volumes', 'dualsync volumes list'],
      ['For a script', 'dualsync volumes list --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the volumes as JSON' });

  async run(): Promise<number> {
    const [{ loadConfigForChecks }, { listVolumes }, { renderVolumeList }, { formatDiagnostic }] = await Promise.all([
      import('../../ops/config.ts'),
      import('../../ops/volumes.ts'),
      import('../../view/volumes.ts'),
      import('../../config/load.ts'),
    ]);
    const { config, warnings } = await loadConfigForChecks(this.configPath(), this.context.env);
    for (const warning of warnings) this.context.stderr.write(`${formatDiagnostic(warning)}\n`);
    const list = await listVolumes(config);
    this.context.stdout.write(this.json ? `${JSON.stringify(list, null, 2)}\n` : renderVolumeList(list));
    return list.volumes.some((row) => row.problem !== undefined) ? 1 : 0;
  }
}

const FILESYSTEMS: readonly Filesystem[] = ['ext4', 'xfs'];

export class VolumesProvisionCommand extends BaseCommand {
  static override paths = [['volumes', 'provision']];
  static override usage = Command.Usage({
    description: 'prepare empty disks as staging volumes (partition, format, mount, permissions)',
    details: `
      Reads \`lsblk --json\` and computes, for each --device, the commands that make it a staging
      volume: a GPT label with one partition (parted), a filesystem (mkfs.ext4 or mkfs.xfs), a
      numbered mount point (\`--base\` + 01, 02, ...; the default /tmp/volume- is what the
      transfer_v5 scripts used), and ownership by the operator (chown to the user behind sudo,
      chmod 0750). It also prints the /etc/fstab lines that mount them again after a reboot,
      as a suggestion: dualsync never edits /etc/fstab.

      By default it only prints the commands. With --apply it runs them, as root, each one shown
      before it runs, and stops at the first that fails.

      It refuses: a device lsblk does not list; a partition instead of a whole disk; the disk that
      holds /; a disk with anything mounted on it (unmount it first); a disk that holds partitions
      or a filesystem, unless --force says its data may be erased. When any device is refused,
      nothing runs.
    `,
    examples: [
      ['See what would be done to two disks', 'dualsync volumes provision --device /dev/vdb --device /dev/vdc'],
      ['Do it', 'sudo dualsync volumes provision --device /dev/vdb --device /dev/vdc --apply'],
      ['Reuse disks that held old data (erases it)', 'sudo dualsync volumes provision --device /dev/sdb --force --apply'],
    ],
  });

  devices = Option.Array('--device', { required: true, description: 'A whole disk to prepare, e.g. /dev/sdb (repeat for more)' });
  base = Option.String('--base', '/tmp/volume-', { description: 'Mount points are this plus 01, 02, ... (default /tmp/volume-)' });
  fs = Option.String('--fs', 'ext4', { description: 'Filesystem: ext4 (default) or xfs' });
  apply = Option.Boolean('--apply', false, { description: 'Run the commands (as root); without it they are only printed' });
  force = Option.Boolean('--force', false, { description: 'Erase disks that hold partitions or a filesystem' });
  owner = Option.String('--owner', { description: 'Owner of the mount points, USER[:GROUP] (default: the user behind sudo)' });
  lsblkJson = Option.String('--lsblk-json', { description: 'Read saved `lsblk --json -b -o ...` output instead of running lsblk' });

  async run(): Promise<number> {
    if (!FILESYSTEMS.includes(this.fs as Filesystem)) {
      throw userError('E_USAGE', `--fs ${this.fs} is not supported`, { hint: `use one of: ${FILESYSTEMS.join(', ')}` });
    }
    if (this.apply && this.lsblkJson !== undefined) {
      throw userError('E_USAGE', '--apply cannot be combined with --lsblk-json', {
        hint: 'a saved lsblk answer may be stale; --apply reads the devices as they are now',
      });
    }
    const [{ planProvision, commandLine }, { defaultOwner, readLsblk, runProvisionCommands }, { renderProvisionPlan }] = await Promise.all([
      import('../../ops/provision.ts'),
      import('../../ops/provision-run.ts'),
      import('../../view/volumes.ts'),
    ]);
    const lsblk = await readLsblk(this.lsblkJson);
    const plan = planProvision(lsblk, this.devices, {
      base: this.base,
      fs: this.fs as Filesystem,
      force: this.force,
      owner: this.owner ?? defaultOwner(this.context.env),
    });
    const out = this.context.stdout;
    out.write(renderProvisionPlan(plan, { apply: this.apply && plan.refusals.length === 0 }));
    if (plan.refusals.length > 0) return 1;
    if (!this.apply) return 0;
    if (process.getuid?.() !== 0) {
      throw userError('E_NOT_ROOT', 'partitioning, formatting and mounting need root', { hint: 'run the same command with sudo' });
    }
    out.write('\n');
    const result = await runProvisionCommands(plan.commands, (text) => out.write(text));
    if (result.failed) {
      const rest = plan.commands.slice(result.ran + 1).map((c) => `  ${commandLine(c.argv)}`);
      throw userError('E_PROVISION_FAILED', `\`${commandLine(result.failed.command.argv)}\` failed (${result.failed.error}); stopped there`, {
        details: rest.length > 0 ? ['Not run:', ...rest] : [],
        hint: 'fix the cause shown above, check `lsblk`, then run the command again (add --force if a disk now holds the half-made partition or filesystem)',
      });
    }
    out.write(`\nProvisioned ${plan.volumes.length} volume(s): ${plan.volumes.map((v) => v.mountPoint).join(', ')}.\n`);
    return 0;
  }
}

function describeRelease(plan: ReleasePlan): string {
  const lines = ['dualsync volumes release will:'];
  for (const volume of plan.release) {
    if (volume.foreign) lines.push(`  release ${volume.root}, which another state directory claimed (--force): ${volume.ownerDescription}`);
    else lines.push(`  release ${volume.root} (remove ${CLAIM_FILE}, written at ${volume.claim?.claimedAt ?? '?'})`);
    if (volume.left.files > 0) {
      const undelivered = volume.left.undelivered > 0 ? `, ${volume.left.undelivered} of them not yet at the destination` : '';
      lines.push(
        `    Warning: ${volume.left.files} file(s) this ledger staged (${formatBytes(volume.left.bytes)}) are still on it${undelivered}.`,
        '    They stay, and the config that claims the volume next sees them as local copies it did not stage. To hand over',
        `    an empty volume, ${volume.left.undelivered > 0 ? 'deliver them first (`dualsync apply`), then ' : ''}run \`dualsync reset\` instead: it removes only what this ledger staged, then releases.`,
      );
    }
  }
  for (const root of plan.unclaimed) lines.push(`  leave ${root}: no state directory claims it`);
  lines.push('', 'The staged files stay. Unless the volumes leave staging.volumes, the next apply of this config claims them again.');
  return `${lines.join('\n')}\n`;
}

export class VolumesReleaseCommand extends BaseCommand {
  static override paths = [['volumes', 'release']];
  static override usage = Command.Usage({
    description: "hand staging volumes over: remove this state directory's claim on them",
    details: `
      A staging volume belongs to one state directory: the first apply writes a claim,
      \`${CLAIM_FILE}\` in the volume root, naming the state directory and its config, and every
      other config refuses the volume while it is there. This command removes the claims of this
      config's state directory on its volumes (or only on the --volume given), so that another
      config may use them. The staged files stay; \`dualsync reset\` removes them and releases the
      volumes too.

      A volume claimed by another state directory is released only with --force, and only when
      that state directory is gone (deleted, or holding another id): a config that still exists
      releases its volumes itself.

      It shows what it will do first and asks for "yes" (on a terminal), unless --yes is given.
      It refuses while another dualsync holds this state directory's lock.
    `,
    examples: [
      ['Hand all volumes of this config over', 'dualsync volumes release -c site7.yaml'],
      ['Only one volume, unattended', 'dualsync volumes release --volume /tmp/volume-02 --yes'],
      ["Take over a volume whose old config and state directory are gone", 'dualsync volumes release --force -c new.yaml'],
    ],
  });

  volumes = Option.Array('--volume', { description: 'Release only this volume (repeat for more); default: every configured volume' });
  yes = Option.Boolean('--yes', false, { description: 'Do not ask for confirmation' });
  force = Option.Boolean('--force', false, { description: 'Also release a claim of another state directory that no longer exists' });

  async run(): Promise<number> {
    const [{ loadConfigFor }, { confirmedOrYes }, { executeRelease, planRelease }, { withLock }] = await Promise.all([
      import('../context.ts'),
      import('../confirm.ts'),
      import('../../ops/release.ts'),
      import('../../apply/lock.ts'),
    ]);
    const config = await loadConfigFor(this.context, this.configPath());
    // Held from the first read to the last change: what is shown is what is done, and no apply stages meanwhile.
    return withLock(config.stateDir, 'dualsync volumes release', () => new Date(), async () => {
      const plan = await planRelease(config, { force: this.force, only: this.volumes });
      const out = this.context.stdout;
      if (plan.release.length === 0) {
        out.write(`Nothing to release: no configured volume is claimed by the state directory ${config.stateDir}.\n`);
        return 0;
      }
      out.write(describeRelease(plan));
      if (!(await confirmedOrYes(this.context, this.yes, 'volumes release', 'Release?'))) {
        out.write('Release cancelled; nothing was changed.\n');
        return 0;
      }
      const released = await executeRelease(config, plan);
      out.write(`\nReleased ${released.length} volume(s)${released.length > 0 ? `: ${released.join(', ')}` : ''}.\n`);
      return 0;
    });
  }
}
