import { expect } from "chai";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeFilesAtomic } from "../../ops/fs.js";
import { snapshot, tempDir } from "./helpers.js";

describe("atomic writes", () => {
  it("writeFileAtomic replaces a file with the given mode and leaves no temporary file", () => {
    const dir = tempDir();
    const path = join(dir, "deep", "key");
    writeFileAtomic(path, "old", 0o644);
    writeFileAtomic(path, "new", 0o600);
    expect(readFileSync(path, "utf8")).to.equal("new");
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(readdirSync(join(dir, "deep"))).to.deep.equal(["key"]);
  });

  it("writeFilesAtomic skips files already right and reports the counts", async () => {
    const dir = tempDir();
    const files = new Map([
      ["a.txt", { content: "a", mode: 0o644 }],
      ["secret/b.key", { content: "b", mode: 0o600 }],
    ]);
    expect(await writeFilesAtomic(dir, files)).to.deep.equal({ written: 2, unchanged: 0 });
    expect(statSync(join(dir, "secret")).mode & 0o777).to.equal(0o700);
    files.set("a.txt", { content: "a2", mode: 0o644 });
    expect(await writeFilesAtomic(dir, files)).to.deep.equal({ written: 1, unchanged: 1 });
    expect(readFileSync(join(dir, "a.txt"), "utf8")).to.equal("a2");
  });

  it("writeFilesAtomic changes nothing when one file cannot be written", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.txt"), "before");
    const before = snapshot(dir);
    const files = new Map([
      ["a.txt", { content: "after", mode: 0o644 }],
      ["blocked/x", { content: "x", mode: 0o644 }],
    ]);
    // A regular file where a folder must go makes the run fail whatever the user's privileges.
    writeFileSync(join(dir, "blocked"), "not a folder");
    let failed = false;
    try {
      await writeFilesAtomic(dir, files);
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect(snapshot(dir)).to.deep.equal(new Map([...before, ["blocked", "not a folder"]]));
  });
});
