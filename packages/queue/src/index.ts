export * from './connection.ts';
export * from './jobs.ts';
