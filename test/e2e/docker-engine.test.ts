import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { dump as dumpYaml } from "js-yaml";
import { anvilBinary } from "../../ops/engines/anvil.js";
import { BesuEngine, PROJECT_LABEL } from "../../ops/engines/besu.js";
import { importRootfsImage } from "../../ops/engines/images.js";
import { OperatorError } from "../../ops/errors.js";
import { freePort } from "../support/net.js";
import { generate } from "../../ops/commands/generate.js";
import { besuStandinImage } from "../support/besu-standin.js";
import { signRpcToken } from "../../ops/engines/rpc-token.js";
import { load as loadYaml } from "js-yaml";
import { readFile, stat } from "node:fs/promises";
import { execFileSync } from "node:child_process";

/**
 * The besu engine's Docker lifecycle against a real dockerd. Besu's image cannot be had here, so an
 * image built from the host's anvil binary stands in for it: it answers eth_ JSON-RPC, which is all
 * the lifecycle needs. Besu-only readiness (peers, validators) is covered in besu-checks.test.ts.
 */
const STANDIN = "gridchain/anvil-standin:test";
const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: "pipe" });
const CHAIN_ID = 4243;

describe("besu engine: Docker lifecycle (real dockerd, stand-in image)", function () {
  this.timeout(120_000);
  const docker = new Docker();
  let dir: string;
  let project: string;

  before(async function () {
    try {
      await docker.ping();
    } catch {
      if (process.env.CI) throw new Error("CI must provide a running dockerd (see .ci/run)");
      this.skip();
    }
    try {
      await docker.getImage(STANDIN).inspect();
    } catch {
      await importRootfsImage(docker, {
        tag: STANDIN,
        files: [{ hostPath: anvilBinary(), imagePath: "/bin/anvil" }],
      });
    }
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-docker-"));
    project = `gctest${process.pid}${Math.floor(Math.random() * 1e6)}`;
  });

  afterEach(async () => {
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: [`${PROJECT_LABEL}=${project}`] },
    });
    for (const c of leftovers) await docker.getContainer(c.Id).remove({ force: true });
    const nets = await docker.listNetworks({ filters: { label: [`${PROJECT_LABEL}=${project}`] } });
    for (const n of nets) await docker.getNetwork(n.Id).remove();
    const { Volumes: volumes } = await docker.listVolumes({
      filters: { label: [`${PROJECT_LABEL}=${project}`] },
    });
    for (const v of volumes ?? []) await docker.getVolume(v.Name).remove();
    await rm(dir, { recursive: true, force: true });
  });

  async function composeFile(image = STANDIN): Promise<{ file: string; port: number }> {
    const port = await freePort();
    const node = (ip: string, published: boolean) => ({
      image,
      entrypoint: ["/bin/anvil"],
      command: [
        "--host",
        "0.0.0.0",
        "--port",
        "8545",
        "--block-time",
        "1",
        "--chain-id",
        String(CHAIN_ID),
      ],
      ...(published ? { ports: [`127.0.0.1:${port}:8545`] } : {}),
      networks: { consortium: { ipv4_address: ip } },
      volumes: [`${ip.endsWith(".10") ? "rpc" : "validator"}-data:/data`],
      restart: "no",
      logging: { driver: "json-file", options: { "max-size": "1m" } },
      deploy: { resources: { limits: { cpus: "0.5", memory: "256m" } } },
    });
    const doc = {
      name: project,
      services: {
        "grid-rpc-1": node("172.30.77.10", true),
        "grid-validator-1": node("172.30.77.11", false),
      },
      networks: {
        consortium: { driver: "bridge", ipam: { config: [{ subnet: "172.30.77.0/24" }] } },
      },
      volumes: { "rpc-data": {}, "validator-data": {} },
    };
    const file = join(dir, "docker-compose.yml");
    await writeFile(file, dumpYaml(doc));
    return { file, port };
  }

  it("starts labelled containers, is ready, and down removes exactly what up created", async () => {
    const { file, port } = await composeFile();
    const engine = new BesuEngine({ composeFile: file, blockWaitMs: 1_500 });
    const bystander = await docker.createContainer({
      Image: STANDIN,
      Cmd: ["/bin/anvil", "--port", "1"],
      name: `${project}-bystander`,
    });

    try {
      await engine.up();
      await engine.ready({ timeoutMs: 30_000 });
      expect(engine.rpcUrl()).to.equal(`http://127.0.0.1:${port}`);
      const status = await engine.status();
      expect(status.running).to.equal(true);
      expect(status.problem).to.equal(undefined);
      expect(status.chainId).to.equal(BigInt(CHAIN_ID));
      const rpcNode = await docker.getContainer(`${project}-grid-rpc-1`).inspect();
      expect(
        rpcNode.NetworkSettings.Networks[`${project}_consortium`]!.IPAMConfig!.IPv4Address,
      ).to.equal("172.30.77.10");
      expect(rpcNode.HostConfig.Memory).to.equal(256 * 1024 * 1024);
      expect(rpcNode.HostConfig.Binds).to.deep.equal([`${project}_rpc-data:/data`]);
      expect(rpcNode.HostConfig.LogConfig).to.deep.equal({
        Type: "json-file",
        Config: { "max-size": "1m" },
      });
      expect(rpcNode.HostConfig.PortBindings!["8545/tcp"]).to.deep.equal([
        { HostIp: "127.0.0.1", HostPort: String(port) },
      ]);

      await engine.down();
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${PROJECT_LABEL}=${project}`] },
      });
      expect(left).to.have.length(0);
      const nets = await docker.listNetworks({ filters: { name: [`${project}_consortium`] } });
      expect(nets).to.have.length(0);
      expect((await bystander.inspect()).Id).to.equal(bystander.id);
      // Chain data is kept for the next up.
      expect((await docker.getVolume(`${project}_rpc-data`).inspect()).Labels).to.deep.equal({
        [PROJECT_LABEL]: project,
      });
    } finally {
      await bystander.remove({ force: true });
    }
  });

  it("reports a killed container in status", async () => {
    const { file } = await composeFile();
    const engine = new BesuEngine({ composeFile: file, blockWaitMs: 1_500 });
    await engine.up();
    await engine.ready({ timeoutMs: 30_000 });
    await docker.getContainer(`${project}-grid-validator-1`).kill();

    const status = await engine.status();
    expect(status.running).to.equal(true);
    expect(status.problem).to.equal(`not running: ${project}-grid-validator-1 (exited)`);
    await engine.down();
  });

  it("explains how to get a missing image and creates nothing", async () => {
    const { file } = await composeFile("hyperledger/besu:0.0.0-missing");
    const engine = new BesuEngine({ composeFile: file });
    const error = await engine.up().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).message).to.equal(
      "the image hyperledger/besu:0.0.0-missing is not present in the Docker engine",
    );
    expect((error as OperatorError).hint).to.contain(
      "docker load -i hyperledger-besu-0.0.0-missing.tar",
    );
    const left = await docker.listNetworks({ filters: { label: [`${PROJECT_LABEL}=${project}`] } });
    expect(left).to.have.length(0);
  });
});

/**
 * The files `gridchain generate` writes, run as written (only the image swapped and the monitoring
 * services left out) on the stand-in image, which behaves like Besu's: it starts as root, its
 * entrypoint hands the data path to uid 1000 and drops to it, and the node fails unless it can
 * write its data path, read its key and write its permissions file.
 */
describe("generated Besu network on the faithful stand-in (real dockerd)", function () {
  this.timeout(180_000);
  const docker = new Docker();
  let dir: string;
  let project: string;
  let repo: string;

  before(async function () {
    try {
      await docker.ping();
    } catch {
      if (process.env.CI) throw new Error("CI must provide a running dockerd (see .ci/run)");
      this.skip();
    }
    repo = await besuStandinImage(docker, "26.8.0");
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-standin-"));
    project = `gcstandin${process.pid}${Math.floor(Math.random() * 1e6)}`;
  });

  afterEach(async () => {
    const label = { label: [`${PROJECT_LABEL}=${project}`] };
    for (const c of await docker.listContainers({ all: true, filters: label })) {
      await docker.getContainer(c.Id).remove({ force: true });
    }
    for (const n of await docker.listNetworks({ filters: label })) {
      await docker.getNetwork(n.Id).remove();
    }
    const { Volumes: volumes } = await docker.listVolumes({ filters: label });
    for (const v of volumes ?? []) await docker.getVolume(v.Name).remove();
    await rm(dir, { recursive: true, force: true });
  });

  async function generated(
    edit: (service: Record<string, unknown>) => void = () => {},
    publishHost = "127.0.0.1",
    extra = "",
  ): Promise<{ out: string; compose: string }> {
    const octet = 100 + Math.floor(Math.random() * 100);
    const yaml = join(dir, "net.yaml");
    await writeFile(
      yaml,
      `name: ${project}
chainId: 4244
besu: { version: "26.8.0", image: ${repo} }
consensus: { protocol: qbft, blockPeriodSeconds: 1 }
organisations:
  - { id: grid, role: grid-operator, validators: 1, rpcNodes: 1 }
  - { id: solar, role: producer, validators: 1 }
accounts: { producers: 1, consumers: 1 }
docker:
  subnet: 172.31.${octet}.0/24
  publishHost: ${publishHost}
  hostPorts: { rpcHttp: ${await freePort()}, rpcWs: ${await freePort()} }
  nodeCpus: 0.5
  nodeMemory: 512m
${extra}`,
    );
    const out = join(dir, "net");
    await generate({ config: yaml, out, rotate: false });
    const compose = join(out, "docker-compose.yml");
    const doc = loadYaml(await readFile(compose, "utf8")) as {
      services: Record<string, Record<string, unknown>>;
    };
    delete doc.services.prometheus;
    delete doc.services.grafana;
    for (const service of Object.values(doc.services)) edit(service);
    await writeFile(compose, dumpYaml(doc, { lineWidth: -1 }));
    return { out, compose };
  }

  const containerName = (node: string) => `${project}-${node}`;

  async function shell(node: string, script: string): Promise<string> {
    const exec = await docker.getContainer(containerName(node)).exec({
      Cmd: ["bash", "-c", script],
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      docker.modem.demuxStream(
        stream,
        { write: (c: Buffer) => chunks.push(c) } as never,
        {
          write: (c: Buffer) => chunks.push(c),
        } as never,
      );
      stream.on("end", resolve);
      stream.on("error", reject);
    });
    return Buffer.concat(chunks).toString("utf8");
  }

  it("every node starts as uid 1000, writes its data path, reads its 0600 key, writes its permissions file, and turns healthy by /readiness", async () => {
    const { out, compose } = await generated();
    expect((await stat(join(out, "nodes/grid-validator-1/key"))).mode & 0o777).to.equal(0o600);
    const engine = new BesuEngine({ composeFile: compose, project, blockWaitMs: 1_500 });
    await engine.up();
    await engine.ready({ timeoutMs: 90_000 });
    for (const node of ["grid-validator-1", "grid-rpc-1", "solar-validator-1"]) {
      const inspected = await docker.getContainer(containerName(node)).inspect();
      // No user from the compose file: the image's own (root), as Besu's image ends with USER root.
      expect(inspected.Config.User, node).to.equal("root");
      expect(inspected.State.Health?.Status, node).to.equal("healthy");
      expect(inspected.State.Health?.Log.at(-1)?.ExitCode, node).to.equal(0);
      const uid = await shell(
        node,
        "while read -r k v _; do [[ $k == Uid: ]] && echo $v; done < /proc/1/status",
      );
      expect(uid.trim(), node).to.equal("1000");
      const owners = await shell(
        node,
        "for f in /opt/besu/data /opt/besu/data/DATABASE_METADATA.json /opt/besu/data/key /config/permissions/permissions_config.toml; do [[ -O $f ]] && echo root-owned $f; done; echo checked",
      );
      expect(owners.trim(), node).to.equal("checked");
    }
    // The host keeps the key 0600; the permissions folder is still the operator's.
    expect((await stat(join(out, "nodes/grid-rpc-1/key"))).mode & 0o777).to.equal(0o600);
    expect((await stat(join(out, "nodes/grid-rpc-1/permissions"))).uid).to.equal(process.getuid!());
    expect(
      (await stat(join(out, "nodes/grid-rpc-1/permissions/permissions_config.toml"))).uid,
    ).to.equal(1000);
  });

  it("a regenerated permissions file is what the running node reads (no stale bind-mounted inode)", async () => {
    const { out, compose } = await generated();
    const engine = new BesuEngine({ composeFile: compose, project, blockWaitMs: 1_500 });
    await engine.up();
    await engine.ready({ timeoutMs: 90_000 });
    const inside = () =>
      shell("grid-rpc-1", 'echo "$(</config/permissions/permissions_config.toml)"');
    const before = await inside();
    // Regenerate with one more account: generate replaces the file by rename.
    const yaml = join(dir, "net.yaml");
    await writeFile(
      yaml,
      (await readFile(yaml, "utf8")).replace(/consumers: (\d+)/, "consumers: 2"),
    );
    await generate({ config: yaml, out, rotate: false });
    const onHost = await readFile(
      join(out, "nodes/grid-rpc-1/permissions/permissions_config.toml"),
      "utf8",
    );
    const after = await inside();
    expect(after).to.not.equal(before);
    expect(after.trim()).to.equal(onHost.trim());
  });

  it("a service forced to run as uid 1000 from the start (the former `user: 1000:1000`) fails on its files", async () => {
    const { compose } = await generated((service) => {
      service.user = "1000:1000";
      service.restart = "no";
    });
    const engine = new BesuEngine({ composeFile: compose, project, blockWaitMs: 1_500 });
    await engine.up();
    const container = docker.getContainer(containerName("grid-validator-1"));
    expect((await container.wait()).StatusCode).to.equal(1);
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    expect(logs).to.match(/cannot read the node key|cannot write the data path|Permission denied/);
  });

  it("RPC generated for beyond 127.0.0.1 answers only with a token signed by rpc-jwt.key", async () => {
    // The files for a non-loopback publish host, published here on 127.0.0.1 all the same.
    const { out, compose } = await generated((service) => {
      if (Array.isArray(service.ports)) {
        service.ports = (service.ports as string[]).map((p) => p.replace(/^[^:]+:/, "127.0.0.1:"));
      }
    }, "192.0.2.10");
    const key = await readFile(join(out, "rpc-jwt.key"), "utf8");
    const engine = new BesuEngine({
      composeFile: compose,
      project,
      blockWaitMs: 1_500,
      rpcToken: () => signRpcToken(key),
    });
    await engine.up();
    await engine.ready({ timeoutMs: 90_000 });
    const [url] = await engine.rpcUrls();
    const call = (headers: Record<string, string>) =>
      fetch(url!, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
    expect((await call({})).status).to.equal(401);
    const answer = await call({ authorization: `Bearer ${signRpcToken(key)}` });
    expect(((await answer.json()) as { result: string }).result).to.equal("0x1094");
    expect((await engine.status()).chainId).to.equal(4244n);
  });

  it("up is not ready while a node's healthcheck has not passed", async () => {
    const { compose } = await generated((service) => {
      (service.healthcheck as Record<string, unknown>).interval = "1h";
    });
    const engine = new BesuEngine({ composeFile: compose, project, blockWaitMs: 500 });
    await engine.up();
    const error = await engine.ready({ timeoutMs: 3_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).details).to.match(/^not healthy: .*\(starting\)/);
  });

  it("RPC with TLS: the node serves its PKCS#12 keystore, the engine trusts the given CA", async () => {
    // A self-signed certificate for 127.0.0.1, which is its own CA.
    const pem = join(dir, "rpc.pem");
    const keyPem = join(dir, "rpc.key");
    run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyPem,
      "-out",
      pem,
    ]);
    await writeFile(join(dir, "rpc.pass"), "standin-pass\n", { mode: 0o600 });
    run("openssl", [
      "pkcs12",
      "-export",
      "-in",
      pem,
      "-inkey",
      keyPem,
      "-out",
      join(dir, "rpc.p12"),
      "-passout",
      "pass:standin-pass",
    ]);
    const { out, compose } = await generated(
      () => {},
      "127.0.0.1",
      "  rpcTls: { keystoreFile: rpc.p12, passwordFile: rpc.pass, caFile: rpc.pem }\n",
    );
    expect((await stat(join(out, "nodes/grid-rpc-1/rpc-tls.p12"))).mode & 0o777).to.equal(0o600);
    const ca = await readFile(pem, "utf8");
    const engine = new BesuEngine({
      composeFile: compose,
      project,
      blockWaitMs: 1_500,
      rpcTls: { ca },
    });
    await engine.up();
    await engine.ready({ timeoutMs: 90_000 });
    expect(engine.rpcUrl()).to.match(/^https:\/\/127\.0\.0\.1:/);
    expect((await engine.status()).chainId).to.equal(4244n);
    // Without the CA the certificate is refused: the channel really is TLS.
    const plain = new BesuEngine({ composeFile: compose, project, rpcTls: {} });
    expect((await plain.status()).problem).to.match(/certificate/);
  });
});
