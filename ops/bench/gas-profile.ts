/**
 * Where a transaction's gas goes, from the engine's struct-log trace (`debug_traceTransaction`, which
 * the in-process network and anvil both answer): each opcode's own cost, summed per contract frame
 * (the code that ran: a proxy and its implementation are two frames) and per kind of work (storage
 * writes and reads, logs, calls, hashing, the rest). A call's own cost is what the CALL opcode took
 * beyond what its callee spent (cold account, value, memory); the callee's work is counted in its
 * own frame. `npm run bench:gas` prints one profile per whole-trade transaction with GAS_PROFILE=1.
 */

/** One step of a geth-style struct log; the fields this profile reads. */
type StructLog = {
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
};

type Trace = { gas: number; structLogs: StructLog[] };

/** Something that answers JSON-RPC, as an ethers provider does. */
export type TraceSource = { send(method: string, params: unknown[]): Promise<unknown> };

export type GasProfile = {
  /** The receipt's gas. */
  gasUsed: bigint;
  /** Base cost and calldata, paid before the first opcode. */
  intrinsic: number;
  /** Storage refunds taken off at the end. */
  refund: number;
  /** Gas by frame label and kind, largest first. */
  rows: { frame: string; kind: string; gas: number; count: number }[];
};

const KINDS: Record<string, string> = {
  SSTORE: "SSTORE",
  SLOAD: "SLOAD",
  LOG0: "LOG",
  LOG1: "LOG",
  LOG2: "LOG",
  LOG3: "LOG",
  LOG4: "LOG",
  CALL: "CALL",
  STATICCALL: "CALL",
  DELEGATECALL: "CALL",
  CALLCODE: "CALL",
  KECCAK256: "KECCAK256",
  SHA3: "KECCAK256",
};
const CALLS = new Set(["CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"]);

/**
 * The profile of transaction `hash`. `names` maps lower-case addresses to labels; a frame is labelled
 * by the code it runs (a DELEGATECALL's target), unknown addresses by the address itself.
 */
export async function profileTransaction(
  source: TraceSource,
  hash: string,
  names: ReadonlyMap<string, string>,
  byOpcode = false,
): Promise<GasProfile> {
  const trace = (await source.send("debug_traceTransaction", [
    hash,
    { disableStorage: true, disableMemory: true, enableMemory: false },
  ])) as Trace;
  const receipt = (await source.send("eth_getTransactionReceipt", [hash])) as {
    gasUsed: string;
    to: string;
  };
  const tx = (await source.send("eth_getTransactionByHash", [hash])) as { gas: string };
  const logs = trace.structLogs;
  const label = (address: string) => names.get(address.toLowerCase()) ?? address.toLowerCase();
  const totals = new Map<string, { gas: number; count: number }>();
  const add = (frame: string, kind: string, gas: number) => {
    const key = `${frame}\u0000${kind}`;
    const entry = totals.get(key) ?? { gas: 0, count: 0 };
    entry.gas += gas;
    entry.count += 1;
    totals.set(key, entry);
  };
  // frames[depth - 1]: the label of the code running at that depth and what its callees spent.
  const frames: { label: string; childGas: number; startGas: number }[] = [
    { label: label(receipt.to), childGas: 0, startGas: logs[0]?.gas ?? 0 },
  ];
  const pendingCalls: { index: number; frame: number }[] = [];
  for (let i = 0; i < logs.length; i++) {
    const step = logs[i]!;
    const next = logs[i + 1];
    const frame = frames[step.depth - 1]!;
    if (CALLS.has(step.op) && next !== undefined && next.depth > step.depth) {
      const stack = step.stack ?? [];
      const target = `0x${(stack[stack.length - 2] ?? "0").replace(/^0x/, "").padStart(40, "0").slice(-40)}`;
      frames[step.depth] = { label: label(target), childGas: 0, startGas: next.gas };
      pendingCalls.push({ index: i, frame: step.depth - 1 });
      continue;
    }
    const kind = byOpcode ? step.op : (KINDS[step.op] ?? "other");
    if (next !== undefined && next.depth < step.depth) {
      // The frame ends here: its whole spend goes to the caller's pending call.
      add(frame.label, kind, step.gasCost);
      const spent = frame.startGas - step.gas + step.gasCost;
      const call = pendingCalls.pop()!;
      const caller = frames[call.frame]!;
      const callStep = logs[call.index]!;
      add(caller.label, "CALL", callStep.gas - next.gas - spent);
      caller.childGas += spent;
      continue;
    }
    add(
      frame.label,
      kind,
      CALLS.has(step.op) && next !== undefined ? step.gas - next.gas : step.gasCost,
    );
  }
  const gasUsed = BigInt(receipt.gasUsed);
  const intrinsic = Number(BigInt(tx.gas)) - trace.structLogs[0]!.gas;
  const executed =
    trace.structLogs[0]!.gas - (logs[logs.length - 1]!.gas - logs[logs.length - 1]!.gasCost);
  const refund = intrinsic + executed - Number(gasUsed);
  const rows = [...totals.entries()]
    .map(([key, { gas, count }]) => {
      const [frame, kind] = key.split("\u0000") as [string, string];
      return { frame, kind, gas, count };
    })
    .sort((x, y) => y.gas - x.gas);
  return { gasUsed, intrinsic, refund, rows };
}

/** The profile as text lines: intrinsic, each frame/kind row, refund, and the check sum. */
export function formatProfile(title: string, profile: GasProfile): string[] {
  const lines = [
    `${title}: ${profile.gasUsed} gas`,
    `  ${"intrinsic (base + calldata)".padEnd(48)} ${String(profile.intrinsic).padStart(7)}`,
  ];
  for (const row of profile.rows) {
    const name = `${row.frame} ${row.kind} x${row.count}`;
    lines.push(`  ${name.padEnd(48)} ${String(row.gas).padStart(7)}`);
  }
  lines.push(`  ${"refund".padEnd(48)} ${String(-profile.refund).padStart(7)}`);
  return lines;
}
