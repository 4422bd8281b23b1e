import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { load as loadYaml } from "js-yaml";
import { z } from "zod";
import { OperatorError } from "../errors.js";

/**
 * The part of the Compose format the besu engine runs: what gridchain's generator writes. The engine
 * reads the generated docker-compose.yml itself, so `docker compose up` and `gridchain up --engine
 * besu` start the same network.
 */
const duration = z.string().regex(/^(\d+(ms|s|m|h))+$/, "a duration such as 10s or 1m30s");

const port = z.union([
  z.string(),
  z.object({
    target: z.number().int(),
    published: z.union([z.number().int(), z.string()]),
    host_ip: z.string().optional(),
    protocol: z.enum(["tcp", "udp"]).optional(),
  }),
]);

const service = z.object({
  image: z.string(),
  container_name: z.string().optional(),
  hostname: z.string().optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  entrypoint: z.union([z.string(), z.array(z.string())]).optional(),
  environment: z
    .union([z.record(z.string(), z.union([z.string(), z.number()])), z.array(z.string())])
    .optional(),
  user: z.string().optional(),
  volumes: z.array(z.string()).optional(),
  ports: z.array(port).optional(),
  networks: z
    .union([
      z.array(z.string()),
      z.record(z.string(), z.object({ ipv4_address: z.string().optional() }).nullable()),
    ])
    .optional(),
  restart: z.enum(["no", "always", "on-failure", "unless-stopped"]).optional(),
  healthcheck: z
    .object({
      test: z.union([z.string(), z.array(z.string())]),
      interval: duration.optional(),
      timeout: duration.optional(),
      retries: z.number().int().optional(),
      start_period: duration.optional(),
    })
    .optional(),
  labels: z.union([z.record(z.string(), z.string()), z.array(z.string())]).optional(),
  mem_limit: z.union([z.string(), z.number()]).optional(),
  cpus: z.union([z.string(), z.number()]).optional(),
  deploy: z
    .object({
      resources: z
        .object({
          limits: z
            .object({
              cpus: z.union([z.string(), z.number()]).optional(),
              memory: z.string().optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  depends_on: z.unknown().optional(),
  logging: z
    .object({ driver: z.string(), options: z.record(z.string(), z.string()).optional() })
    .optional(),
});

const composeFile = z.object({
  name: z.string().optional(),
  version: z.string().optional(),
  services: z.record(z.string(), service),
  networks: z
    .record(
      z.string(),
      z
        .object({
          driver: z.string().optional(),
          ipam: z.object({ config: z.array(z.object({ subnet: z.string() })) }).optional(),
        })
        .nullable(),
    )
    .optional(),
  volumes: z.record(z.string(), z.unknown()).optional(),
});

export type ComposeService = z.infer<typeof service>;

/** A compose service turned into the facts a container is created from. */
export type ContainerPlan = {
  service: string;
  name: string;
  hostname?: string;
  image: string;
  cmd?: string[];
  entrypoint?: string[];
  env: string[];
  user?: string;
  binds: string[];
  /** container port ("8545/tcp") -> host binding */
  ports: Record<string, { hostIp: string; hostPort: string }>;
  network?: { name: string; ipv4?: string };
  restart: string;
  healthcheck?: {
    test: string[];
    intervalNs: number;
    timeoutNs: number;
    retries: number;
    startPeriodNs: number;
  };
  labels: Record<string, string>;
  memoryBytes?: number;
  nanoCpus?: number;
  log?: { driver: string; options: Record<string, string> };
};

export type ComposePlan = {
  project: string;
  networks: Array<{ name: string; subnet?: string }>;
  /** Named volumes, prefixed with the project as Compose does; they hold each node's chain data. */
  volumes: string[];
  containers: ContainerPlan[];
};

/** Reads and validates a compose file; errors name the file and the path inside it. */
export async function readComposePlan(file: string, project?: string): Promise<ComposePlan> {
  let raw: unknown;
  try {
    raw = loadYaml(await readFile(file, "utf8"));
  } catch (error) {
    throw new OperatorError(`cannot read ${file}`, { details: (error as Error).message });
  }
  const parsed = composeFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OperatorError(`${file}: ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
      hint: "regenerate it with 'gridchain generate'",
    });
  }
  const doc = parsed.data;
  const name = project ?? doc.name;
  if (name === undefined) {
    throw new OperatorError(`${file}: name: a project name is required`);
  }
  const baseDir = dirname(resolve(file));
  const networks = Object.entries(doc.networks ?? {}).map(([key, value]) => ({
    name: `${name}_${key}`,
    subnet: value?.ipam?.config[0]?.subnet,
  }));
  const named = new Set(Object.keys(doc.volumes ?? {}));
  const containers = Object.entries(doc.services).map(([key, svc]) =>
    containerPlan(name, key, svc, baseDir, named),
  );
  return { project: name, networks, volumes: [...named].map((v) => `${name}_${v}`), containers };
}

function containerPlan(
  project: string,
  key: string,
  svc: ComposeService,
  baseDir: string,
  namedVolumes: ReadonlySet<string>,
): ContainerPlan {
  const networkEntry = Array.isArray(svc.networks)
    ? svc.networks[0] !== undefined
      ? ([svc.networks[0], null] as const)
      : undefined
    : Object.entries(svc.networks ?? {})[0];
  const limits = svc.deploy?.resources?.limits;
  const memory = limits?.memory ?? svc.mem_limit;
  const cpus = limits?.cpus ?? svc.cpus;
  return {
    service: key,
    name: svc.container_name ?? `${project}-${key}`,
    hostname: svc.hostname,
    image: svc.image,
    cmd: toArgv(svc.command)?.map(unescapeDollars),
    entrypoint: toArgv(svc.entrypoint)?.map(unescapeDollars),
    env: (Array.isArray(svc.environment)
      ? svc.environment
      : Object.entries(svc.environment ?? {}).map(([k, v]) => `${k}=${v}`)
    ).map(unescapeDollars),
    user: svc.user,
    binds: (svc.volumes ?? []).map((v) => bindOf(v, baseDir, project, namedVolumes)),
    ports: Object.fromEntries((svc.ports ?? []).map(portOf)),
    network: networkEntry && {
      name: `${project}_${networkEntry[0]}`,
      ipv4: networkEntry[1]?.ipv4_address,
    },
    restart: svc.restart ?? "no",
    healthcheck: svc.healthcheck && {
      test: (typeof svc.healthcheck.test === "string"
        ? ["CMD-SHELL", svc.healthcheck.test]
        : svc.healthcheck.test
      ).map(unescapeDollars),
      intervalNs: nanos(svc.healthcheck.interval ?? "30s"),
      timeoutNs: nanos(svc.healthcheck.timeout ?? "30s"),
      retries: svc.healthcheck.retries ?? 3,
      startPeriodNs: nanos(svc.healthcheck.start_period ?? "0s"),
    },
    labels: Array.isArray(svc.labels)
      ? Object.fromEntries(svc.labels.map((l) => l.split("=", 2) as [string, string]))
      : (svc.labels ?? {}),
    memoryBytes: memory === undefined ? undefined : bytes(memory),
    nanoCpus: cpus === undefined ? undefined : Math.round(Number(cpus) * 1e9),
    log: svc.logging && { driver: svc.logging.driver, options: svc.logging.options ?? {} },
  };
}

/**
 * Compose interpolates `${VAR}` in every value and writes a literal `$` as `$$`; gridchain's files
 * use only the escape, which Compose turns back into one `$` before Docker sees the value.
 */
function unescapeDollars(value: string): string {
  return value.replaceAll("$$", "$");
}

function toArgv(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value.split(/\s+/).filter(Boolean) : value;
}

/**
 * "./nodes/x:/data:ro" -> an absolute host path; "x-data:/data" (a top-level named volume) ->
 * "<project>_x-data:/data", the name Compose gives it.
 */
function bindOf(
  volume: string,
  baseDir: string,
  project: string,
  named: ReadonlySet<string>,
): string {
  const [source, ...rest] = volume.split(":");
  if (named.has(source!)) return [`${project}_${source}`, ...rest].join(":");
  const host = source!.startsWith(".") || isAbsolute(source!) ? resolve(baseDir, source!) : source!;
  return [host, ...rest].join(":");
}

/** Short syntax "[ip:]host:container[/proto]" or the long form -> "container/proto" binding. */
function portOf(p: z.infer<typeof port>): [string, { hostIp: string; hostPort: string }] {
  if (typeof p !== "string") {
    return [
      `${p.target}/${p.protocol ?? "tcp"}`,
      { hostIp: p.host_ip ?? "0.0.0.0", hostPort: String(p.published) },
    ];
  }
  const [spec, proto = "tcp"] = p.split("/");
  const parts = spec!.split(":");
  const container = parts.pop()!;
  const hostPort = parts.pop() ?? container;
  const hostIp = parts.pop() ?? "0.0.0.0";
  return [`${container}/${proto}`, { hostIp, hostPort }];
}

function nanos(text: string): number {
  const units: Record<string, number> = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(n) * units[unit!]!;
  return total;
}

function bytes(value: string | number): number {
  if (typeof value === "number") return value;
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(value.trim());
  if (!match) throw new OperatorError(`memory limit "${value}" is not a size such as 512m or 2g`);
  const scale: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.round(Number(match[1]) * scale[match[2]!.toLowerCase()]!);
}
