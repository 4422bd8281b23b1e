import { expect } from "chai";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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
