# The Outrigger image: `outrigger controller` by default, `outrigger webhook` for the webhooks.
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step: the
# image is the sources plus the production dependencies.
#
#   docker build -t outrigger .
#   docker build --build-arg BASE_IMAGE=outrigger-local/node-base:24 --network host -t outrigger .
#
# BASE_IMAGE is any Debian-like image with node 24 and npm on PATH (CI, which reaches no container
# registry, builds one from Debian packages and the Node 24 binary of node_modules/node). The
# dependency stage needs the npm registry; build with --network host where the default bridge
# has no route out.
# Only classic-builder instructions are used, so it builds with or without BuildKit.
ARG BASE_IMAGE=node:24-bookworm-slim

# Production dependencies only (npm ci --omit=dev); install scripts are not run: none is needed
# (ssh2 falls back to its JavaScript crypto without its optional native addon).
FROM ${BASE_IMAGE} AS dependencies
# Marks the intermediate image the classic builder leaves behind, so it can be pruned by label.
LABEL dev.outrigger.build-stage=dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn \
 && rm -rf /root/.npm /tmp/*

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="outrigger" \
      org.opencontainers.image.description="Kubernetes-style operator for infrastructure outside Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    HOME=/tmp
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY controller ./controller
COPY crds ./crds
COPY reconcilers ./reconcilers
COPY webhooks ./webhooks
COPY embedded ./embedded
COPY pki ./pki
# Files stay root-owned and read-only to the process; it writes nothing outside /tmp (an emptyDir
# in the chart), so the root filesystem can be mounted read-only. A numeric user, so Kubernetes
# can verify runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["node", "bin/outrigger.ts"]
CMD ["controller"]
