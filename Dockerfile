# One image for all three programs: the agent (default), the operator and the CLI.
#   docker build -t stargz-operator .
#   docker run stargz-operator stargz-operator --help
FROM node:24-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libfuse-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY proto ./proto
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# fuse for fusermount and the kernel interface; libfuse2 for fuse-native.
RUN apt-get update && apt-get install -y --no-install-recommends fuse libfuse2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/stargz-operator
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/proto ./proto
RUN npm link --omit=dev >/dev/null 2>&1 || ln -s /opt/stargz-operator/dist/src/cli/main.js /usr/local/bin/stargz
ENTRYPOINT []
CMD ["node", "/opt/stargz-operator/dist/src/agent/main.js"]
