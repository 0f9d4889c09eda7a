# syntax=docker/dockerfile:1

# Headway: a TCP (layer-4) proxy and load balancer for Kubernetes headless Services.
#
#   docker build -t ghcr.io/headway-proxy/headway:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --rm -p 8080:8080 -p 9901:9901 ghcr.io/headway-proxy/headway:0.1.0 \
#     --backends static://10.0.0.7:6379,10.0.0.8:6379
#
# Stages: `build` compiles src/ to dist/ with the dev dependencies; `deps` installs the production
# dependencies only; the final image holds Node 24 (from the base image), those dependencies,
# dist/ and package.json ("type": "module"), all owned by root and run as an unprivileged user, so
# it runs unchanged on a read-only root filesystem. test/deploy/ lints this file and replays the
# final stage on the host (npm ci, copies, entrypoint as a non-root user over a read-only tree).

ARG NODE_IMAGE=node:24-slim

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install script in the tree is the `node` dev dependency's, which
# fetches a second Node 24 for machines with an older system Node; this image has Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies are pure JavaScript with no install scripts (a test checks the
# lockfile), so skipping scripts loses nothing and the tree is the same on every platform.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="headway" \
      org.opencontainers.image.description="TCP (layer-4) proxy and load balancer for Kubernetes headless Services" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/headway-proxy/headway" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
# What `headway --version`, the start-up log and headway_build_info report as the revision.
ENV HEADWAY_REVISION=${REVISION}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# Numeric, so that Kubernetes' runAsNonRoot can verify it (uid 1000 is `node` in the base image).
USER 1000:1000
# Proxy (--listen, default [::]:8080) and admin endpoint (--admin, default [::]:9901).
EXPOSE 8080 9901
# Node runs as PID 1 and Headway installs its own SIGTERM/SIGINT handlers: SIGTERM starts the
# shutdown (--shutdown-delay, then --drain-timeout) and the process exits 0. Exec form, no shell.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli/main.js"]
