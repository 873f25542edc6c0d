# syntax=docker/dockerfile:1
# Builds the emulator from a clean checkout in two stages: a build stage with the native toolchain
# (better-sqlite3 is a native addon), and a runtime stage with only node, the built files and the
# production dependencies, running as the unprivileged `node` user of the official image.
# test/ci/docker-image.test.ts emulates this build step by step and starts the result.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Only used when better-sqlite3 has no prebuilt binary for the platform and compiles from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# Dependencies first, without running the package's own `prepare` (it needs the sources): this
# layer is cached until package.json or the lock file change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
RUN npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY src ./src
# tsc + the single-file CLI bundle, then drop the dev dependencies and what only compiling the addon
# needed (its C sources and object files); `data` becomes the empty /data volume owned by `node`.
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && (cd node_modules/better-sqlite3 && mv build/Release/better_sqlite3.node . && rm -rf build deps src \
      && mkdir -p build/Release && mv better_sqlite3.node build/Release/) \
  && mkdir data

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=9010 DATA_DIR=/data
WORKDIR /app
# Owned by root: the server can read its code but not change it.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# The dashboard's static files, read at run time from src/dashboard.
COPY --from=build /app/src/dashboard ./src/dashboard
COPY --from=build --chown=node:node /app/data /data
USER node
VOLUME ["/data"]
EXPOSE 9010
# EMULATOR_PUBLIC_URL (unset here) names the host in signed URLs when clients reach the container
# under another name, e.g. `-e EMULATOR_PUBLIC_URL=http://roboflow:9010` in docker-compose.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||9010)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/roboflow-batch-emulator.js"]
