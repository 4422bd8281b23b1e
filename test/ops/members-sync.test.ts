import { expect } from "chai";
import { createServer, type Server } from "node:http";
import { rpcCall } from "../../ops/engines/rpc.js";
import type { MemberView } from "../../ops/governance/client.js";
import { describeSync, syncAllowlists } from "../../ops/governance/sync.js";
import { OperatorError } from "../../ops/errors.js";

/**
 * A stand-in for one Besu node's PERM API on 127.0.0.1: Besu itself cannot run here. It answers as
 * Besu 26.8.0 does (ethereum/api/.../methods/permissioning/Perm*.java, RpcErrorType): "Success" on
 * a change, -32000 errors with Besu's messages for an existing or absent entry, a persist failure,
 * and an allowlist that is not enabled.
 */
function besuPermStub(state: {
  nodes: string[] | undefined;
  accounts: string[] | undefined;
  persistFails?: boolean;
}) {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const { id, method, params } = JSON.parse(body) as {
        id: number;
        method: string;
        params: string[][];
      };
      calls.push(method);
      const error = (message: string) =>
        res.end(JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32000, message } }));
      const ok = (result: unknown) => res.end(JSON.stringify({ jsonrpc: "2.0", id, result }));
      const kind = method.includes("Nodes") ? "nodes" : "accounts";
      const list = state[kind];
      if (list === undefined) {
        return error(`${kind === "nodes" ? "Node" : "Account"} allowlist has not been enabled`);
      }
      if (method.startsWith("perm_get")) return ok(list);
      if (state.persistFails) {
        return error("Unable to persist changes to allowlist configuration file. Changes reverted");
      }
      const entries = params[0]!;
      if (method.startsWith("perm_add")) {
        if (entries.some((entry) => list.includes(entry))) {
          return error(
            `Cannot add an existing ${kind === "nodes" ? "node" : "account"} to allowlist`,
          );
        }
        list.push(...entries);
      } else {
        if (entries.some((entry) => !list.includes(entry))) {
          return error(
            kind === "nodes"
              ? "Cannot remove an absent node from allowlist"
              : "Cannot remove an absent account from allowlist",
          );
        }
        state[kind] = list.filter((entry) => !entries.includes(entry));
      }
      return ok("Success");
    });
  });
  return { server, calls };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const enode = (n: number, host = "172.16.240.10") =>
  `enode://${n.toString(16).padStart(128, "0")}@${host}:30303`;
const account = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
const member = (active: boolean, n: number): MemberView => ({
  organisation: `org-${n}`,
  voter: account(100 + n),
  gridOperator: false,
  active,
  enodes: [enode(n)],
  validators: [],
  accounts: [account(200 + n)],
  roles: [4n],
});

describe("gridchain members sync (perm_* against a Besu PERM stand-in)", () => {
  const servers: Server[] = [];
  after(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  });
  const start = async (state: Parameters<typeof besuPermStub>[0]) => {
    const stub = besuPermStub(state);
    servers.push(stub.server);
    const url = await listen(stub.server);
    return {
      url,
      calls: stub.calls,
      rpc: (method: string, params: unknown[]) => rpcCall(url, method, params),
    };
  };

  it("adds a joined member's enodes and accounts, removes a departed member's, leaves unclaimed entries", async () => {
    const deployer = account(1);
    const state = {
      nodes: [enode(1), `${enode(2)}?discport=0`, enode(9, "10.0.0.9")],
      accounts: [deployer, account(101), account(201), account(102), account(202)],
    };
    const { rpc } = await start(state);
    const members = [member(true, 1), member(false, 2), member(true, 3)];
    const report = await syncAllowlists(rpc, members);
    expect(report).to.deep.equal({
      nodesAdded: [enode(3)],
      nodesRemoved: [`${enode(2)}?discport=0`],
      accountsAdded: [account(103), account(203)],
      accountsRemoved: [account(102), account(202)],
      skipped: [],
    });
    expect(state.nodes).to.deep.equal([enode(1), enode(9, "10.0.0.9"), enode(3)]);
    expect(state.accounts).to.deep.equal([
      deployer,
      account(101),
      account(201),
      account(103),
      account(203),
    ]);
    expect(describeSync("grid-rpc-1", report)).to.include(`  node allowlist +  ${enode(3)}`);
    // A second sync finds nothing to do and sends no change.
    const again = await syncAllowlists(rpc, members);
    expect(describeSync("grid-rpc-1", again)).to.deep.equal([
      "grid-rpc-1: allowlists already follow the members on chain",
    ]);
  });

  it("skips an allowlist the node does not run, and says so", async () => {
    const { rpc, calls } = await start({ nodes: undefined, accounts: [] });
    const report = await syncAllowlists(rpc, [member(true, 1)]);
    expect(report.skipped).to.deep.equal(["node"]);
    expect(calls).to.not.include("perm_addNodesToAllowlist");
    expect(report.accountsAdded).to.deep.equal([account(101), account(201)]);
  });

  it("a node that cannot persist its permissions file fails with one clear error", async () => {
    const { rpc } = await start({ nodes: [], accounts: [], persistFails: true });
    const error = await syncAllowlists(rpc, [member(true, 1)]).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).message).to.equal(
      "perm_addNodesToAllowlist failed on the node",
    );
    expect((error as OperatorError).hint).to.contain("make it writable");
  });
});
