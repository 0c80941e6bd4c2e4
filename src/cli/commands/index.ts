import type { CommandClass } from 'clipanion';

/** Every registered command. Only commands that work are listed here. */
export const commands: CommandClass[] = [];
