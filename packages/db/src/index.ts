export * from './env.ts';
export * from './migrate.ts';
export * from './client.ts';
export * from './trajectory-codec.ts';
