# paddock's image: `paddock watch` and `paddock serve` in a cluster (see
# constructs/paddock-control-plane.ts), or any other command:
#   docker build -t ghcr.io/paddock-dev/paddock:0.1.0 .
#   docker run --rm ghcr.io/paddock-dev/paddock:0.1.0 --help
#
# paddock is TypeScript. src/cli/paddock.mjs runs it from an esbuild bundle of the sources
# (dist/cli/paddock.mjs and a chunk per command; esbuild is a runtime dependency anyway, it
# loads the definition files), built here once, since /app is not writable at run time. Node 24,
# the active LTS line (paddock runs on 20.19+, 22 and 24; 20 is past its end of life).
FROM node:24-bookworm-slim

# git and ssh for the manifests repo; CA certificates for HTTPS remotes; tini as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

COPY src/ src/
COPY core/ core/
COPY constructs/ constructs/
RUN node src/cli/paddock.mjs --version

# The image's own `node` user (uid 1000), numeric so that runAsNonRoot can verify it. It owns
# nothing under /app; paddock writes only to the OS temp dir (its manifests-repo work tree).
USER 1000:1000

# tini is PID 1: it passes signals on to node and reaps the processes that end up orphaned to it
# (a git killed on its timeout leaves its pack-objects or ssh behind). Node reaps only its own
# children, so as PID 1 it would keep each of those as a zombie (test/image-init.test.ts).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "src/cli/paddock.mjs"]
CMD ["--help"]
