# syntax=docker/dockerfile:1
#
# One image for every role: the SERVICES variable picks which Moleculer services a container runs
# (api, orders, processor or any comma list; all three when unset). All configuration is by
# environment variable (see moleculer.config.ts).
#
#   docker build -t order-pipeline .
#   docker run --rm -p 3000:3000 order-pipeline          # all services, embedded PGlite, no broker
#
# One node of a cluster: a broker URL, the cluster's key (the same on every node; a node with
# TRANSPORTER and no CLUSTER_SECRET refuses to start) and the services it runs:
#
#   docker run --rm -e TRANSPORTER=amqp://user:password@rabbitmq:5672 -e CLUSTER_SECRET="$CLUSTER_SECRET" \
#     -e SERVICES=processor -e PROCESSOR_DATABASE_URL=postgres://user:password@db:5432/processor order-pipeline

ARG NODE_IMAGE=node:22-bookworm-slim

# --- stage 1: build ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# All dependencies, without install scripts: the image's own Node 22 runs the build (the "node"
# package's preinstall, which fetches another, is not needed), and the package's `prepare` (a
# build, for a checkout) would run before the sources are copied.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json moleculer.config.ts ./
COPY bin ./bin
COPY lib ./lib
COPY mixins ./mixins
COPY services ./services
RUN npm run build

# --- stage 2: runtime ----------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

ENV NODE_ENV=production \
    PORT=3000 \
    METRICS_PORT=3030 \
    DATA_DIR=/app/data

# Production dependencies only. --ignore-scripts is safe: among them only "node" (preinstall that
# fetches a second Node binary, unneeded since the image's own `node` runs the app) and "es5-ext"
# (a postinstall that prints a message) have install scripts.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && mkdir -p /app/data \
    && chown node:node /app/data

COPY --from=build /app/dist ./dist

# DATA_DIR (/app/data, writable by `node`) holds the embedded PGlite databases when
# ORDERS_DATABASE_URL / PROCESSOR_DATABASE_URL are unset: mount a volume there to keep them.

USER node

# 3000: REST gateway (api service). 3030: Prometheus metrics (every node).
EXPOSE 3000 3030

# No HEALTHCHECK here: the image serves three roles and only the api listens on PORT. The compose
# file and the Kubernetes manifests define role-specific checks.

# Exec form: node is PID 1 and gets SIGTERM itself; Moleculer stops the broker gracefully on it.
CMD ["node", "dist/bin/start.js"]
