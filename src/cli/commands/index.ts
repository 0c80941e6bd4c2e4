import type { CommandClass } from 'clipanion';
import { ImportLegacyCommand } from './import-legacy.ts';
import { InitCommand } from './init.ts';
import { ValidateCommand } from './validate.ts';
import { PlanCommand } from './plan.ts';
import { ApplyCommand } from './apply.ts';
import { WatchCommand } from './watch.ts';
import { StatusCommand } from './status.ts';
import { DoctorCommand } from './doctor.ts';
import { VolumesListCommand, VolumesProvisionCommand, VolumesReleaseCommand } from './volumes.ts';
import { ResetCommand } from './reset.ts';
import { VersionCommand } from './version.ts';
import { CheckCommand } from './check.ts';
import { ReportCommand } from './report.ts';

/** Every registered command. Only commands that work are listed here. */
export const commands: CommandClass[] = [InitCommand, ValidateCommand, ImportLegacyCommand, PlanCommand, ApplyCommand, WatchCommand, StatusCommand, CheckCommand, ReportCommand, DoctorCommand, VolumesListCommand, VolumesProvisionCommand, VolumesReleaseCommand, ResetCommand, VersionCommand];
