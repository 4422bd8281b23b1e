import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../ops/fs.js";
import { monitoringFiles } from "./files.js";

/** Writes monitoring/ (dashboards JSON, provisioning, Prometheus config and rules) from the code. */
const root = dirname(fileURLToPath(import.meta.url));
for (const [path, content] of monitoringFiles()) {
  writeFileAtomic(join(root, path), content);
  console.log(`wrote monitoring/${path}`);
}
