import type { CommandClass } from 'clipanion';
import { ImportLegacyCommand } from './import-legacy.ts';
import { InitCommand } from './init.ts';
import { ValidateCommand } from './validate.ts';

/** Every registered command. Only commands that work are listed here. */
export const commands: CommandClass[] = [InitCommand, ValidateCommand, ImportLegacyCommand];
