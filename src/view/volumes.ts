/**
 * Staging volumes for people: the `volumes list` table and the `volumes provision` plan. Pure:
 * returns text; `--json` prints the same objects.
 */
import Table from 'cli-table3';
import { formatBytes } from '../config/units.ts';
import type { ProvisionPlan } from '../model/provision.ts';
import { commandLine } from '../model/shell.ts';
import type { VolumeList, VolumeRow } from '../model/volume-list.ts';

const plain = { head: [], border: [] };

/** The `volumes list` table, then one line per problem or note. */
export function renderVolumeList(list: VolumeList): string {
  const table = new Table({ head: ['volume', 'mount point', 'fs', 'size', 'free', 'reserve', 'staged'], style: plain });
  const notes: string[] = [];
  for (const row of list.volumes) {
    if (row.problem !== undefined) {
      table.push([row.root ?? row.entry, { colSpan: 6, content: `PROBLEM: ${row.problem}` }]);
      continue;
    }
    table.push([
      row.root ?? row.entry,
      row.mountPoint ?? '?',
      row.fsType ?? '?',
      formatBytes(row.totalBytes ?? 0),
      formatBytes(row.freeBytes ?? 0),
      formatBytes(row.reserveBytes ?? 0),
      `${row.stagedFiles ?? 0} (${formatBytes(row.stagedBytes ?? 0)})`,
    ]);
    if (row.onRootFilesystem === true) {
      notes.push(`Note: ${row.root} is on the root filesystem, not a disk of its own; if a disk should be mounted there, mount it (and add it to /etc/fstab).`);
    }
    if ((row.leftovers ?? 0) > 0) notes.push(`Note: ${row.root} holds ${row.leftovers} file(s) of interrupted downloads; the next apply removes them.`);
  }
  const usable = list.volumes.filter((row) => row.problem === undefined);
  // Volumes on one filesystem share its free space: it counts once, less the largest of their reserves.
  const filesystems = new Map<string, VolumeRow[]>();
  for (const row of usable) {
    const mount = row.mountPoint ?? row.root ?? row.entry;
    filesystems.set(mount, [...(filesystems.get(mount) ?? []), row]);
  }
  let room = 0;
  for (const [mount, rows] of filesystems) {
    room += Math.max(0, Math.min(...rows.map((row) => row.freeBytes ?? 0)) - Math.max(...rows.map((row) => row.reserveBytes ?? 0)));
    if (rows.length > 1) notes.push(`Note: ${rows.map((row) => row.root).join(', ')} are on one filesystem (${mount}): they share its free space, counted once.`);
  }
  const staged = usable.reduce((n, row) => n + (row.stagedBytes ?? 0), 0);
  const problems = list.volumes.length - usable.length;
  const summary = `${usable.length} volume(s): ${formatBytes(room)} free above the reserves, ${formatBytes(staged)} staged${problems > 0 ? `; ${problems} with a problem` : ''}.`;
  return `${[table.toString(), ...notes, summary].join('\n')}\n`;
}

/** The provision plan: what each disk becomes, the commands, the fstab suggestion, the refusals. */
export function renderProvisionPlan(plan: ProvisionPlan, options: { apply: boolean }): string {
  const out: string[] = [];
  if (plan.volumes.length > 0) {
    const table = new Table({ head: ['disk', 'size', 'partition', 'mount point', 'erases'], style: plain });
    for (const v of plan.volumes) table.push([v.device, formatBytes(v.sizeBytes), v.partition, v.mountPoint, v.erases ?? 'nothing (blank disk)']);
    out.push(table.toString());
    out.push('', options.apply ? 'Commands to run:' : 'Commands (printed only; run them with --apply, as root):');
    for (const command of plan.commands) out.push(`  ${commandLine(command.argv)}`);
    out.push('', 'To mount them again after a reboot, add them to /etc/fstab (a suggestion; dualsync never edits it):');
    for (const line of plan.fstab) out.push(`  ${line}`);
    const base = plan.volumes[0]?.mountPoint.replace(/\d+$/, '');
    out.push('', `Then list them in sync.yaml:  staging: { volumes: ["${base}*"] }`);
  }
  if (plan.refusals.length > 0) {
    if (out.length > 0) out.push('');
    out.push(`Refused ${plan.refusals.length} device(s); nothing will be run while any device is refused:`);
    for (const r of plan.refusals) out.push(`  ${r.device} ${r.reason}.`, `    Hint: ${r.hint}`);
  }
  return `${out.join('\n')}\n`;
}
