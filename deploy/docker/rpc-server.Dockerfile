# NOA rpc-server: multi-stage, runs as the unprivileged `node` user. Build from the repository root:
#   docker build -f deploy/docker/rpc-server.Dockerfile -t noa-rpc-server .
# The apps run their TypeScript sources through @noa/runtime (esbuild, as `pnpm start` does): no separate build output.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /noa
# node-llama-cpp ships prebuilt binaries; the toolchain is only its fallback for a source build.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && npm install -g pnpm@12.4.2
COPY . .
# Only this app and the workspace packages it uses, from the lockfile.
RUN pnpm install --frozen-lockfile --filter "@noa/rpc-server..."

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /noa
COPY --from=build --chown=node:node /noa /noa
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
WORKDIR /noa/apps/rpc-server
# As `pnpm start` (apps/rpc-server/package.json): a 32 MiB young-generation semi-space, where each request's
# short-lived objects die before a scavenge copies or promotes them (docs/benchmarks.md).
CMD ["node", "--max-semi-space-size=32", "--import", "@noa/runtime/register", "src/main.ts"]
