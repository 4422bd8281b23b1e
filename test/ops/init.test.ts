import { expect } from "chai";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../../ops/commands/generate.js";
import { init } from "../../ops/commands/init.js";
import { parseConsortium } from "../../ops/consortium/load.js";
import { OperatorError } from "../../ops/errors.js";
import { tempDir } from "./helpers.js";

/** Runs `init` in a fresh folder (its network/ folder is relative to the working directory). */
function inFolder<T>(run: (dir: string) => T): T {
  const dir = tempDir("gridchain-init-");
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    return run(dir);
  } finally {
    process.chdir(cwd);
  }
}

const nameIn = (file: string) => parseConsortium(readFileSync(file, "utf8"), file).name;

describe("gridchain init: one network per consortium file", () => {
  it("names the network after the file, so a second file never drives the first one's network", () => {
    inFolder(() => {
      init("network/consortium.yaml");
      init("network/my.yaml");
      expect(nameIn("network/consortium.yaml")).to.equal("pilot");
      expect(nameIn("network/my.yaml")).to.equal("my");
    });
  });

  it("takes --name, and makes a usable name of an odd file name", () => {
    inFolder(() => {
      init("network/trial.yaml", "trial-2");
      init("network/2nd_Grid.yml");
      expect(nameIn("network/trial.yaml")).to.equal("trial-2");
      expect(nameIn("network/2nd_Grid.yml")).to.equal("nd-grid");
    });
  });

  it("refuses a name whose network folder already exists, and writes nothing", () => {
    inFolder(() => {
      mkdirSync(join("network", "pilot"), { recursive: true });
      let line = "";
      try {
        init("network/other.yaml", "pilot");
      } catch (error) {
        expect(error).to.be.instanceOf(OperatorError);
        line = (error as OperatorError).oneLine();
      }
      expect(line).to.equal(
        "network/pilot already exists: another consortium file's network; a new network/other.yaml named pilot would drive that network, its keys and its chain; hint: pick another name with --name, or edit the file that made it",
      );
      expect(existsSync("network/other.yaml")).to.equal(false);
    });
  });
});

describe("gridchain init: a deleted file", () => {
  it("is written again when its network folder was generated from it", async () => {
    const dir = tempDir("gridchain-init-");
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      init("network/consortium.yaml");
      await generate({ config: "network/consortium.yaml", rotate: false });
      rmSync("network/consortium.yaml");
      expect(init("network/consortium.yaml")).to.match(/^wrote network\/consortium\.yaml/);
      expect(() => init("network/other.yaml", "pilot")).to.throw(OperatorError);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("gridchain generate: one consortium file per network folder", () => {
  const yaml = (chainId: number) =>
    `name: shared\nchainId: ${chainId}\nconsensus: { allowValidatorMajority: true }\norganisations:\n  - { id: grid, role: grid-operator, validators: 1 }\n`;

  it("refuses a second file that names the same network with other content, and writes nothing", async () => {
    const dir = tempDir("gridchain-source-");
    const first = join(dir, "first.yaml");
    const second = join(dir, "second.yaml");
    const out = join(dir, "network");
    writeFileSync(first, yaml(7));
    writeFileSync(second, yaml(8));
    await generate({ config: first, out, rotate: false });
    const genesis = readFileSync(join(out, "genesis.json"), "utf8");
    let line = "";
    try {
      await generate({ config: second, out, rotate: false });
    } catch (error) {
      expect(error).to.be.instanceOf(OperatorError);
      line = (error as OperatorError).oneLine();
    }
    expect(line).to.equal(
      `${out} was generated from ${first}, not from ${second}; both files name this network, with different content; hint: give ${second} a name of its own, or generate it elsewhere with --out`,
    );
    expect(readFileSync(join(out, "genesis.json"), "utf8")).to.equal(genesis);
  });

  it("lets a renamed file, or a copy with the same content, take the folder over", async () => {
    const dir = tempDir("gridchain-source-");
    const first = join(dir, "first.yaml");
    const copy = join(dir, "copy.yaml");
    const out = join(dir, "network");
    writeFileSync(first, yaml(7));
    writeFileSync(copy, yaml(7));
    await generate({ config: first, out, rotate: false });
    await generate({ config: copy, out, rotate: false });
    writeFileSync(copy, yaml(9));
    rmSync(first);
    await generate({ config: copy, out, rotate: false });
    expect(JSON.parse(readFileSync(join(out, "genesis.json"), "utf8")).config.chainId).to.equal(9);
  });
});
