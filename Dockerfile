# Tributary nodes: one image for `tributary orchestrator`, `tributary gateway`, `tributary serve`,
# `tributary trickle` (the default target), and a `devnet` target that also carries anvil for
# `tributary devnet`. Untested in a Docker engine (none on the machine this was written on); the
# compose test (test/e2e/compose.test.ts) runs every compose service's command as a local process and
# checks that every COPY source exists. See docs/deployment.md.
#
#   docker build -t tributary .                       # nodes
#   docker build --target devnet -t tributary-devnet . # local chain (anvil + contracts)
#   docker run --rm tributary --help
#   docker run -p 8935:8935 -v orch-data:/data tributary orchestrator --service-addr 0.0.0.0:8935 \
#     --service-uri https://orch.example.com:8935 --ai-models /data/aiModels.json --orch-secret s3cret
#
# Node 24 on Debian slim (the official node:24-slim image). TypeScript runs natively (type stripping): no build step.
FROM node:24-slim AS base
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./

# Production dependencies only. Install scripts are off (package.json allowScripts): node-av's FFmpeg
# comes as a prebuilt platform package; secp256k1 and keccak load their bundled prebuilt bindings (else
# their JavaScript fallback).
FROM base AS deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# The devnet also needs the development dependency @foundry-rs/anvil (its linux binary comes as an
# optional platform package, so no install script runs either).
FROM base AS devnet-deps
RUN npm ci --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM base AS common
# The data directory (TLS certificate, payment store, nonces) lives in a volume owned by `node`.
ENV TRIBUTARY_DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
COPY bin ./bin
COPY src ./src
COPY examples ./examples
COPY templates ./templates
VOLUME ["/data"]
USER node
# Health: TRIBUTARY_HEALTH_URL when set, else the orchestrator's (https://127.0.0.1:8935/health,
# self-signed) or the gateway's (http://127.0.0.1:8937/health) default; healthy when one answers 200.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "-e", "const u=process.env.TRIBUTARY_HEALTH_URL?[process.env.TRIBUTARY_HEALTH_URL]:['https://127.0.0.1:8935/health','http://127.0.0.1:8937/health'];const get=(x)=>new Promise((ok)=>{const m=require(x.startsWith('https:')?'node:https':'node:http');const r=m.get(x,{rejectUnauthorized:false,timeout:4000},(s)=>{s.resume();ok(s.statusCode===200)});r.on('timeout',()=>r.destroy());r.on('error',()=>ok(false))});Promise.all(u.map(get)).then((a)=>process.exit(a.includes(true)?0:1))"]
ENTRYPOINT ["node", "/app/bin/tributary.js"]
CMD ["--help"]

FROM common AS devnet
COPY --from=devnet-deps /app/node_modules ./node_modules
EXPOSE 8545
# The chain is ready once the gateway account's deposit is funded (the last transaction of the setup).
# The port is the default one: a devnet run with another --port needs its own healthcheck.
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=10 CMD ["node", "-e", "fetch('http://127.0.0.1:8545',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({jsonrpc:'2.0',id:1,method:'eth_getTransactionCount',params:['0x70997970C51812dc3A010C7d01b50e0d17dc79C8','latest']})}).then((r)=>r.json()).then((b)=>process.exit(BigInt(b.result)>0n?0:1),()=>process.exit(1))"]
CMD ["devnet", "--host", "0.0.0.0", "--port", "8545"]

# The default target: the nodes.
FROM common AS node
COPY --from=deps /app/node_modules ./node_modules
EXPOSE 8935 8937 8000 2939
