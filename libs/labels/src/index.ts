export * from './types';
export * from './validation';
export * from './host-template';
export * from './settings';
export * from './expose-spec';
