/** What `volumes provision` plans for the staging disks: planned in ops/, shown by view/. Types only. */

export interface ProvisionCommand {
  /** The device the command prepares. */
  device: string;
  argv: string[];
}

export interface ProvisionedVolume {
  device: string;
  partition: string;
  mountPoint: string;
  sizeBytes: number;
  /** What --force will erase on it, if anything. */
  erases?: string;
}

export interface Refusal {
  device: string;
  reason: string;
  hint: string;
}

export interface ProvisionPlan {
  volumes: ProvisionedVolume[];
  commands: ProvisionCommand[];
  /** Shell lines that would add each volume to /etc/fstab; shown, never run. */
  fstab: string[];
  refusals: Refusal[];
}
