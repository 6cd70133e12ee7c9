# One image for both apps: `npm run api` or `npm run worker` (and `npm run db:migrate`).
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/sweep-spec/package.json packages/sweep-spec/
COPY packages/db/package.json packages/db/
COPY packages/queue/package.json packages/queue/
COPY packages/plots/package.json packages/plots/
COPY packages/cli/package.json packages/cli/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
RUN npm ci --no-audit --no-fund

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# The Prisma client is generated at build time; `generate` does not need the schema engine.
RUN node scripts/ensure-prisma.mjs
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
