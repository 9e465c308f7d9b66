export * from './types';
export * from './validation';
export * from './host-template';
export * from './env-settings';
export * from './settings';
export * from './expose-spec';
