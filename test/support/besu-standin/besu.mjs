// The stand-in for /opt/besu/bin/besu in the test image. It does what Besu does with the files
// `gridchain generate` writes, so that a file Besu could not use fails here too:
// - reads config.toml (only the keys it needs), the genesis, the static nodes and the node key;
// - `--print-paths-and-exit <user>` prints the data path (read-write) and the genesis (read) when
//   the user lacks access, as Besu does for its image entrypoint (BesuCommand.checkPermissions);
// - otherwise it must run as uid 1000, writes its data path, opens the permissions file for
//   writing as Besu's allowlist persistor does (WRITE without create), listens for P2P, and serves
//   JSON-RPC (forwarded to anvil) with /liveness and /readiness on the RPC port, the Host header
//   checked against host-allowlist, when enabled RS256 JWTs checked against the public key and TLS
//   from the PKCS#12 keystore.
// Besu fails on a read-only permissions file only when perm_add* persists; the stand-in checks at
// start so that a test sees it.
import { spawn } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { connect, createServer as createTcpServer } from "node:net";

const BESU_UID = 1000;
const ANVIL_PORT = 18545;

function fail(message) {
  console.error(`besu stand-in: ${message}`);
  process.exit(1);
}

/** Flat TOML as gridchain writes it: key=value, arrays one item per line. */
function parseToml(text) {
  const entries = {};
  for (const [, key, raw] of text.matchAll(/^([a-z0-9-]+)=(\[[\s\S]*?\]|.*)$/gm)) {
    entries[key] = JSON.parse(raw.replace(/,\s*\]$/, "]"));
  }
  return entries;
}

const args = process.argv.slice(2);
const configArg = args.find((arg) => arg.startsWith("--config-file="));
if (configArg === undefined) fail("no --config-file");
const configFile = configArg.slice("--config-file=".length);
let config;
try {
  config = parseToml(readFileSync(configFile, "utf8"));
} catch (error) {
  fail(`cannot read ${configFile}: ${error.message}`);
}

const printAt = args.indexOf("--print-paths-and-exit");
if (printAt >= 0) {
  const access = (path, write) => {
    const { uid, gid, mode } = statSync(path);
    const shift = uid === BESU_UID ? 6 : gid === BESU_UID ? 3 : 0;
    const bits = (mode >> shift) & 7;
    return (bits & 4) !== 0 && (!write || (bits & 2) !== 0);
  };
  if (!access(config["data-path"], true)) {
    console.log(`PERMISSION_CHECK_PATH:${config["data-path"]}:READ_WRITE`);
  }
  if (!access(config["genesis-file"], false)) {
    console.log(`PERMISSION_CHECK_PATH:${config["genesis-file"]}:READ`);
  }
  process.exit(0);
}

if (process.getuid() !== BESU_UID) fail(`runs as uid ${process.getuid()}, Besu's image runs it as ${BESU_UID}`);
const read = (what, path) => {
  try {
    return readFileSync(path, what === "TLS keystore" ? "latin1" : "utf8");
  } catch (error) {
    return fail(`cannot read the ${what} ${path}: ${error.code}`);
  }
};
const genesis = JSON.parse(read("genesis file", config["genesis-file"]));
const key = read("node key", config["node-private-key-file"]).trim();
if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) fail("the node key is not 32 bytes of hex");
const staticNodes = JSON.parse(read("static nodes file", config["static-nodes-file"]));
try {
  mkdirSync(`${config["data-path"]}/database`, { recursive: true });
  writeFileSync(`${config["data-path"]}/DATABASE_METADATA.json`, '{"version":1}\n');
} catch (error) {
  fail(`cannot write the data path ${config["data-path"]}: ${error.code}`);
}
for (const option of ["permissions-nodes-config-file", "permissions-accounts-config-file"]) {
  if (config[`${option}-enabled`] !== true) continue;
  read("permissions file", config[option]);
  try {
    closeSync(openSync(config[option], "r+"));
  } catch (error) {
    fail(`cannot write the permissions file ${config[option]} (${error.code}): perm_add* would fail`);
  }
}

const p2p = createTcpServer((socket) => socket.destroy());
p2p.listen(config["p2p-port"], config["p2p-interface"]);

const consensus = genesis.config.qbft ?? genesis.config.clique ?? {};
const anvil = spawn(
  "/opt/standin/anvil",
  [
    "--host",
    "127.0.0.1",
    "--port",
    String(ANVIL_PORT),
    "--chain-id",
    String(genesis.config.chainId),
    "--block-time",
    String(consensus.blockperiodseconds ?? 1),
    "--silent",
  ],
  { stdio: "inherit" },
);
anvil.on("exit", (code) => fail(`anvil exited (${code})`));

const ownIp = config["p2p-host"];
const peers = staticNodes
  .map((enode) => /@([\d.]+):(\d+)/.exec(enode))
  .filter((match) => match !== null && match[1] !== ownIp)
  .map((match) => ({ host: match[1], port: Number(match[2]) }));

/** Peers: static nodes whose P2P port accepts a connection, as a stand-in for Besu's sessions. */
async function peerCount() {
  const reachable = await Promise.all(
    peers.map(
      (peer) =>
        new Promise((resolve) => {
          const socket = connect({ ...peer, timeout: 1000 });
          socket.once("connect", () => (socket.destroy(), resolve(true)));
          socket.once("timeout", () => (socket.destroy(), resolve(false)));
          socket.once("error", () => resolve(false));
        }),
    ),
  );
  return reachable.filter(Boolean).length;
}

const publicKey =
  config["rpc-http-authentication-enabled"] === true
    ? createPublicKey(read("JWT public key", config["rpc-http-authentication-jwt-public-key-file"]))
    : undefined;

function tokenValid(header) {
  const token = /^Bearer (.+)$/.exec(header ?? "")?.[1];
  if (token === undefined) return false;
  const [head, body, signature] = token.split(".");
  if (signature === undefined) return false;
  const ok = verify(
    "RSA-SHA256",
    Buffer.from(`${head}.${body}`),
    publicKey,
    Buffer.from(signature, "base64url"),
  );
  const claims = JSON.parse(Buffer.from(body, "base64url").toString());
  return ok && typeof claims.exp === "number" && claims.exp * 1000 > Date.now();
}

const allowedHosts = config["host-allowlist"] ?? ["localhost", "127.0.0.1"];
const send = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

// TLS as Besu configures it: a PKCS#12 keystore and a file holding its password.
const tls =
  config["rpc-http-tls-enabled"] === true
    ? {
        pfx: Buffer.from(read("TLS keystore", config["rpc-http-tls-keystore-file"]), "latin1"),
        passphrase: read("keystore password", config["rpc-http-tls-keystore-password-file"]).trim(),
      }
    : undefined;
const serve = (handler) => (tls === undefined ? createServer(handler) : createTlsServer(tls, handler));

serve(async (req, res) => {
  const host = (req.headers.host ?? "").replace(/:\d+$/, "");
  if (!allowedHosts.includes("*") && !allowedHosts.includes(host)) {
    return send(res, 403, { message: "Host not authorized." });
  }
  const url = new URL(req.url, "http://localhost");
  if (req.method === "GET" && url.pathname === "/liveness") return send(res, 200, { status: "UP" });
  if (req.method === "GET" && url.pathname === "/readiness") {
    const required = Number(url.searchParams.get("minPeers") ?? "1");
    const current = await peerCount();
    const ready = Number.isInteger(required) && required >= 0 && current >= required;
    return send(res, ready ? 200 : 503, { status: ready ? "UP" : "DOWN", current, required });
  }
  if (req.method !== "POST") return send(res, 404, {});
  if (publicKey !== undefined && !tokenValid(req.headers.authorization)) {
    return send(res, 401, { message: "Unauthorized" });
  }
  const forward = request(
    { host: "127.0.0.1", port: ANVIL_PORT, method: "POST", path: "/", headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  forward.on("error", () => send(res, 502, { message: "node starting" }));
  req.pipe(forward);
}).listen(config["rpc-http-port"], config["rpc-http-host"]);
