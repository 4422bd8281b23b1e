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

/**
 * The besu engine's Docker lifecycle against a real dockerd. Besu's image cannot be had here, so an
 * image built from the host's anvil binary stands in for it: it answers eth_ JSON-RPC, which is all
 * the lifecycle needs. Besu-only readiness (peers, validators) is covered in besu-checks.test.ts.
 */
const STANDIN = "gridchain/anvil-standin:test";
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
