import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readComposePlan } from "../../ops/engines/compose-file.js";
import { OperatorError } from "../../ops/errors.js";

describe("compose file -> containers (what the besu engine creates)", () => {
  it("turns the generated pilot compose file into labelled-ready container plans", async () => {
    const plan = await readComposePlan("docker-compose.yml", "pilot");
    expect(plan.networks).to.deep.equal([{ name: "pilot_pilot-net", subnet: "172.16.240.0/24" }]);
    expect(plan.volumes).to.include("pilot_grid-rpc-1-data");

    const rpc = plan.containers.find((c) => c.service === "grid-rpc-1")!;
    expect(rpc.ports["8545/tcp"]).to.deep.equal({ hostIp: "127.0.0.1", hostPort: "8545" });
    expect(rpc.network).to.deep.equal({ name: "pilot_pilot-net", ipv4: "172.16.240.11" });
    // Besu's image starts as root and drops to uid 1000 itself; a fixed user would skip that.
    expect(rpc.user).to.equal(undefined);
    expect(rpc.entrypoint).to.deep.equal(["/bin/bash", "/config/node/start.sh"]);
    // The folder, read-write: a replaced file is seen, and Besu can persist perm_* changes.
    expect(rpc.binds).to.include(
      `${resolve("network/pilot/nodes/grid-rpc-1/permissions")}:/config/permissions`,
    );
    expect(rpc.binds.filter((b) => b.includes("permissions_config.toml"))).to.deep.equal([]);
    // Compose's `$$` reaches Docker as one `$`; the probe is bash alone (no curl in the image).
    expect(rpc.healthcheck!.test.slice(0, 3)).to.deep.equal(["CMD", "bash", "-c"]);
    expect(rpc.healthcheck!.test[3]).to.include("/dev/tcp/127.0.0.1/8545");
    expect(rpc.healthcheck!.test[3]).to.include("GET /readiness?minPeers=1&maxBlocksBehind=2");
    expect(rpc.healthcheck!.test[3]).to.include("[[ $status == 'HTTP/1.1 200'* ]]");
    expect(rpc.hostname).to.equal("grid-rpc-1");
    expect(rpc.binds).to.include(
      `${resolve("network/pilot/genesis.json")}:/config/genesis.json:ro`,
    );
    expect(rpc.binds.some((b) => b.startsWith("pilot_grid-rpc-1-data:"))).to.equal(true);

    // Validators' RPC is never published.
    const validators = plan.containers.filter((c) => c.service.includes("-validator-"));
    expect(validators).to.have.length(4);
    for (const v of validators) expect(v.ports).to.deep.equal({});
  });

  it("names the file and the path of a malformed service", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gridchain-compose-"));
    const file = join(dir, "docker-compose.yml");
    await writeFile(file, "services:\n  node:\n    image: 42\n");
    try {
      const error = await readComposePlan(file, "x").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(OperatorError);
      expect((error as OperatorError).message).to.match(
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: services\\.node\\.image: `),
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
