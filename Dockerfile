# Builds the emulator the same way CI does (npm ci, which compiles TypeScript via `prepare`) and
# starts it with the same command as `npm start`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source: it needs a toolchain at build time only.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY openapi ./openapi
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=9010 DATA_DIR=/data
COPY --from=build /app /app
VOLUME ["/data"]
EXPOSE 9010
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||9010)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/roboflow-batch-emulator.js"]
