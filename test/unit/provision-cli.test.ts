import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runCli } from '../cli/helpers.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/lsblk/${name}.json`, import.meta.url));

describe('dualsync volumes provision (printing only; no test formats a device)', () => {
  it('prints the commands, the fstab suggestion and the staging entry, and exits 0', async () => {
    const result = await runCli(['volumes', 'provision', '--device', '/dev/nvme1n1', '--device', '/dev/nvme2n1', '--owner', 'ops:ops', '--lsblk-json', fixture('nvme-box')]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Commands (printed only; run them with --apply, as root):');
    expect(result.stdout).toContain('  mkfs.ext4 -F /dev/nvme2n1p1');
    expect(result.stdout).toContain('  chown ops:ops /tmp/volume-02');
    expect(result.stdout).toContain('/tmp/volume-01 ext4 defaults,nofail 0 2" | sudo tee -a /etc/fstab');
    expect(result.stdout).toContain('staging: { volumes: ["/tmp/volume-*"] }');
  });

  it('exits 1 and names the refused device and why', async () => {
    const result = await runCli(['volumes', 'provision', '--device', '/dev/sdb', '--lsblk-json', fixture('disk-with-ext4')]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('/dev/sdb holds a filesystem (ext4 on /dev/sdb1).');
    expect(result.stdout).toContain('add --force');
    expect(result.stdout).not.toContain('mkfs');
  });

  it('a mistyped device beside a good one: the hint lists only the disks it would accept', async () => {
    const result = await runCli(['volumes', 'provision', '--device', '/dev/vdx', '--device', '/dev/vdb', '--lsblk-json', fixture('vm-root-and-two-empty-disks')]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('disks it would accept: /dev/vdc');
    expect(result.stdout).not.toContain('/dev/vda');
  });

  it.each([
    ['an unknown filesystem', ['--fs', 'btrfs'], /--fs btrfs is not supported/],
    ['--apply on saved lsblk output', ['--apply'], /--apply cannot be combined with --lsblk-json/],
    ['a missing lsblk file', ['--lsblk-json', '/nonexistent/lsblk.json'], /cannot read \/nonexistent\/lsblk\.json/],
  ])('refuses %s with a user error', async (_situation, extra, message) => {
    const args = ['volumes', 'provision', '--device', '/dev/vdb', '--lsblk-json', fixture('vm-root-and-two-empty-disks'), ...extra];
    const result = await runCli(args);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/Internal error/);
    expect(result.stdout).not.toContain('parted');
  });
});
