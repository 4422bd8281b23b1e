import { expect } from "chai";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../../ops/commands/generate.js";
import { parseConsortium } from "../../ops/consortium/load.js";
import { OperatorError } from "../../ops/errors.js";
import { tempDir } from "./helpers.js";

const pilot = readFileSync("network/consortium.yaml", "utf8");
const chainIdLine = pilot.split("\n").findIndex((line) => line.startsWith("chainId:")) + 1;

describe("consortium YAML: public chain ids", () => {
  it("refuses chain id 1 with the file, the path and what to do, and writes nothing", async () => {
    const dir = tempDir();
    const file = join(dir, "consortium.yaml");
    writeFileSync(file, pilot.replace("chainId: 2026", "chainId: 1"));
    const error = await generate({ config: file, out: join(dir, "out"), rotate: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(OperatorError);
    const line = (error as OperatorError).oneLine();
    expect(line).to.match(
      new RegExp(
        `^${file}: chainId: 1 is the chain id of Ethereum mainnet: transactions signed for one chain would be valid on the other; line ${chainIdLine}`,
      ),
    );
    expect(line).to.contain("set allowPublicChainId: true");
    expect(existsSync(join(dir, "out"))).to.equal(false);
  });

  for (const [id, name] of [
    [11155111, "Sepolia"],
    [137, "Polygon PoS"],
    [8453, "Base"],
  ] as const) {
    it(`refuses ${name}'s chain id ${id}`, () => {
      expect(() => parseConsortium(pilot.replace("chainId: 2026", `chainId: ${id}`), "c.yaml"))
        .to.throw(OperatorError)
        .with.property("message")
        .that.contains(`${id} is the chain id of ${name}`);
    });
  }

  it("accepts a public chain id when the file says so explicitly", () => {
    const spec = parseConsortium(
      pilot.replace("chainId: 2026", "chainId: 1\nallowPublicChainId: true"),
      "c.yaml",
    );
    expect(spec.chainId).to.equal(1);
  });
});
