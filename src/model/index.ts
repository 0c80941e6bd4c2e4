export type * from './config.ts';
export type * from './objects.ts';
export type * from './plan.ts';
export type * from './ledger.ts';
export type * from './provision.ts';
export type * from './apply.ts';
export type * from './events.ts';
export type * from './failure.ts';
