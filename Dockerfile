# One image for the API (default command), the workers and the migrations:
#   node apps/api/dist/main.js | node apps/worker/dist/main.js | node packages/db/dist/migrate-main.js
# Two stages: `build` installs every dependency, generates the Prisma client and compiles
# the workspaces (`npm run build`, tsc -b); the runtime stage has only the production
# dependencies and the compiled output, on the current LTS Node, as the unprivileged
# `node` user. No TypeScript runs at run time.
FROM node:24-bookworm-slim AS build
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
COPY . .
# `prisma generate` needs no schema engine (ensure-prisma.mjs says why), then tsc -b.
RUN node scripts/ensure-prisma.mjs && npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# Node keeps the compiled code of the modules it loaded for the next start of the container.
ENV NODE_COMPILE_CACHE=/tmp/node-compile-cache
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
# --omit=optional too: Prisma's CLI and TypeScript are optional peers of @prisma/client,
# so --omit=dev alone keeps them (250 MB); the optional native speed-ups it also drops
# (msgpackr-extract, @napi-rs/nice) have pure-JS fallbacks or are unused.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/sweep-spec/dist packages/sweep-spec/dist
COPY --from=build /app/packages/db/dist packages/db/dist
COPY --from=build /app/packages/db/generated packages/db/generated
COPY --from=build /app/packages/queue/dist packages/queue/dist
COPY --from=build /app/packages/plots/dist packages/plots/dist
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY --from=build /app/packages/cli/bin packages/cli/bin
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY prisma/migrations prisma/migrations
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
USER node
EXPOSE 3000
CMD ["node", "apps/api/dist/main.js"]
