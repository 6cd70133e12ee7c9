// @fastify/type-provider-typebox 6 is typed against `typebox` 1.x, while our schemas
// (core, sweep-spec, this app) are @sinclair/typebox 0.34 objects; this is the same
// provider for 0.34's Static, so handlers get typed params, query, body and replies.
import type { FastifyTypeProvider } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';

export interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}
