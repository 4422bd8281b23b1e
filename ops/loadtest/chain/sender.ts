import { Signature, SigningKey, Transaction, computeAddress, keccak256 } from "ethers";
import { defaultEcdsa, type Ecdsa } from "../../channels/ecdsa.js";
import type { BlockFollower, MinedReceipt } from "./follower.js";
import { RpcError, RpcTransportError, type JsonRpc } from "./rpc.js";

export type TxFailureReason = "revert" | "timeout" | "nonce" | "rpc";

export class TxError extends Error {
  override readonly name = "TxError";
  readonly reason: TxFailureReason;
  readonly hash?: string;
  readonly receipt?: MinedReceipt;

  constructor(
    reason: TxFailureReason,
    message: string,
    facts: { hash?: string; receipt?: MinedReceipt; cause?: unknown } = {},
  ) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.reason = reason;
    if (facts.hash !== undefined) this.hash = facts.hash;
    if (facts.receipt !== undefined) this.receipt = facts.receipt;
  }
}

export type TxRequest = { to: string; data: string; gasLimit: bigint };
export type SendResult = MinedReceipt & {
  sentAt: number;
  /** When the node last took one of the call's transactions (absent: its answer was never seen). */
  acceptedAt?: number;
  resent: number;
};

/** What a node's refusal of eth_sendRawTransaction says about the nonce. */
export type SendRefusal =
  /** The nonce is used: by this transaction (mined) or by another one. */
  | "nonce-low"
  /** The node will not hold the transaction: a lower nonce is missing. */
  | "nonce-high"
  /** The node already holds these very bytes. */
  | "known"
  /** The node holds another transaction with this nonce and at least the same price. */
  | "underpriced"
  | "other";

const REFUSALS: Array<[RegExp, SendRefusal]> = [
  // anvil "nonce too low"; Besu RpcErrorType.NONCE_TOO_LOW "Nonce too low" (and the enum name in
  // some answers' data); Besu's GraphQL/older "Incorrect nonce" meant too high, so it is below.
  [/nonce too low|nonce_too_low/i, "nonce-low"],
  // anvil "Nonce too high"; Besu NONCE_TOO_HIGH "Nonce too high", older Besu INCORRECT_NONCE
  // "Incorrect nonce", Besu NONCE_TOO_FAR_IN_FUTURE_FOR_SENDER "Transaction nonce is too distant
  // from current sender nonce".
  [/nonce too high|nonce_too_high|incorrect nonce|nonce is too distant/i, "nonce-high"],
  // anvil "transaction already imported" / "Tx: [..] already Imported"; Besu ETH_SEND_TX_ALREADY_KNOWN
  // "Known transaction"; geth-style "already known".
  [/already imported|known transaction|already known/i, "known"],
  // anvil "insufficient gas price to replace existing transaction"; Besu
  // ETH_SEND_TX_REPLACEMENT_UNDERPRICED "Replacement transaction underpriced".
  [/replacement transaction underpriced|insufficient gas price to replace/i, "underpriced"],
];

/** Reads a node's refusal of eth_sendRawTransaction (anvil and Besu texts). */
export function classifySendRefusal(message: string): SendRefusal {
  for (const [pattern, refusal] of REFUSALS) if (pattern.test(message)) return refusal;
  return "other";
}

/** Sends of the same bytes after a transport failure before the caller gets TxError("rpc"). */
const TRANSPORT_RETRIES = 3;
/** Fresh nonces one call may take (its nonce used by someone else each time) before TxError("nonce"). */
const MAX_RESIGNS = 5;
/** Gap repairs one transaction may trigger before TxError("nonce"). */
const MAX_REPAIRS = 3;
const FILLER_GAS = 21_000n;

type Slot = {
  /** "call" answers a caller; "filler" only uses up a nonce nobody else will. */
  kind: "call" | "filler";
  tx: TxRequest;
  nonce: number;
  raw: string;
  hash: string;
  hashes: string[];
  sentAt: number;
  /** When the node last took this slot's transaction. */
  acceptedAt?: number;
  /** Follower head when last sent: a slot unmined for resendAfterBlocks blocks is checked. */
  sentBlock: number;
  resent: number;
  resigns: number;
  repairs: number;
  /** A submission is in flight: the checker leaves it alone. */
  busy: boolean;
  /** Mined, or its nonce went to another transaction: nothing more to do. */
  done: boolean;
  /** The caller has its answer (result or error). */
  settled: boolean;
  /** The hash last reported to onSent. */
  announced?: string;
  resolve?: (result: SendResult) => void;
  reject?: (error: TxError) => void;
  timer?: NodeJS.Timeout;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One agent's account: signs legacy (type 0) transactions at gas price 0 with EIP-155 chain id,
 * assigns nonces locally in call order and sees every nonce used exactly once.
 *
 * Nonce rules:
 * - a transport failure resends the same signed bytes (up to 3 times, then TxError "rpc");
 * - "nonce too low" (or a same-nonce transaction already in the pool): if one of our hashes for the
 *   call has a receipt, that receipt is the answer; otherwise another sender used the nonce, so the
 *   call is signed again with a fresh nonce (max of the chain's pending count and the local one);
 * - "nonce too high": the chain's latest count is read, nonces below ours that no transaction of
 *   ours holds are filled, and every unmined transaction is sent again in nonce order;
 * - every resendAfterBlocks blocks an unmined transaction is looked up: gone from the pool (dropped)
 *   means the same bytes are sent again; its nonce used by another mined transaction (replaced)
 *   means the call is signed again with a fresh nonce.
 *
 * A call that fails (timeout, rpc) keeps its nonce: its transaction may still be mined (the caller
 * was already told otherwise, so the result is ignored). Once it has left the pool, a zero-value
 * transfer to ourselves takes the nonce instead, so later transactions are never stuck behind a gap.
 */
export class AccountSender {
  readonly address: string;
  private readonly key: SigningKey;
  private readonly chainId: bigint;
  private readonly rpc: JsonRpc;
  private readonly follower: BlockFollower;
  private readonly timeoutMs: number;
  private readonly resendAfterBlocks: number;
  private readonly ecdsa: Ecdsa;
  private readonly onSent: ((hash: string, nonce: number) => void) | undefined;
  private readonly slots = new Map<number, Slot>();
  private next = -1;
  private checking = false;

  constructor(options: {
    key: string;
    chainId: number;
    rpc: JsonRpc;
    follower: BlockFollower;
    timeoutMs: number;
    resendAfterBlocks?: number;
    /** Signing implementation (default: libsecp256k1 when installed). */
    ecdsa?: Ecdsa;
    /**
     * The key's address when the caller knows it already (the consortium's accounts list it):
     * deriving it is a public-key computation in JavaScript, milliseconds per account, which for
     * thousands of agents is most of a worker's start.
     */
    address?: string;
    /**
     * Called each time the node accepts a transaction (first send and every resend), and for a
     * mined transaction whose acceptance was never seen (its answer was lost).
     */
    onSent?: (hash: string, nonce: number) => void;
  }) {
    this.key = new SigningKey(options.key);
    this.address = options.address ?? computeAddress(this.key);
    this.chainId = BigInt(options.chainId);
    this.rpc = options.rpc;
    this.follower = options.follower;
    this.timeoutMs = options.timeoutMs;
    this.resendAfterBlocks = options.resendAfterBlocks ?? 3;
    this.ecdsa = options.ecdsa ?? defaultEcdsa;
    this.onSent = options.onSent;
    this.follower.onBlock((block) => this.checkStale(block.number));
  }

  async init(): Promise<void> {
    this.next = await this.count("pending");
  }

  /** Transactions of this account not yet mined (calls and fillers). */
  get unmined(): number {
    return this.slots.size;
  }

  send(tx: TxRequest): Promise<SendResult> {
    if (this.next < 0) {
      return Promise.reject(new TxError("rpc", `${this.address}: init() was not called`));
    }
    const slot = this.newSlot("call", tx, this.next++);
    return new Promise<SendResult>((resolve, reject) => {
      slot.resolve = resolve;
      slot.reject = reject;
      slot.timer = setTimeout(() => {
        this.fail(slot, "timeout", `not mined within ${this.timeoutMs} ms (nonce ${slot.nonce})`);
      }, this.timeoutMs);
      void this.submit(slot);
    });
  }

  private newSlot(kind: Slot["kind"], tx: TxRequest, nonce: number): Slot {
    const slot: Slot = {
      kind,
      tx,
      nonce,
      raw: "",
      hash: "",
      hashes: [],
      sentAt: Date.now(),
      sentBlock: this.follower.head,
      resent: 0,
      resigns: 0,
      repairs: 0,
      busy: false,
      done: false,
      settled: false,
    };
    this.sign(slot);
    this.slots.set(nonce, slot);
    return slot;
  }

  private sign(slot: Slot): void {
    const tx = new Transaction();
    tx.type = 0;
    tx.chainId = this.chainId;
    tx.nonce = slot.nonce;
    tx.gasPrice = 0n;
    tx.gasLimit = slot.tx.gasLimit;
    tx.to = slot.tx.to;
    tx.data = slot.tx.data;
    tx.value = 0n;
    tx.signature = Signature.from(this.ecdsa.sign(this.key, tx.unsignedHash));
    slot.raw = tx.serialized;
    slot.hash = keccak256(slot.raw);
    slot.hashes.push(slot.hash);
    void this.follower.watch(slot.hash).then((receipt) => this.mined(slot, receipt));
  }

  /** Moves `slot` to a fresh nonce: its old one went to another transaction. */
  private async resign(slot: Slot): Promise<void> {
    if (slot.resigns >= MAX_RESIGNS) {
      this.finish(slot);
      this.fail(slot, "nonce", `nonce taken by another transaction ${slot.resigns + 1} times`);
      return;
    }
    const pending = await this.count("pending");
    if (slot.done) return;
    if (this.slots.get(slot.nonce) === slot) this.slots.delete(slot.nonce);
    slot.nonce = Math.max(this.next, pending);
    this.next = slot.nonce + 1;
    slot.resigns++;
    slot.resent++;
    this.sign(slot);
    this.slots.set(slot.nonce, slot);
  }

  private mined(slot: Slot, receipt: MinedReceipt): void {
    if (slot.done) return;
    this.finish(slot);
    if (slot.settled) return;
    if (slot.announced !== receipt.hash) this.onSent?.(receipt.hash, slot.nonce);
    slot.settled = true;
    clearTimeout(slot.timer);
    slot.resolve?.({
      ...receipt,
      sentAt: slot.sentAt,
      ...(slot.acceptedAt === undefined ? {} : { acceptedAt: slot.acceptedAt }),
      resent: slot.resent,
    });
  }

  /** Nothing more will happen at this slot's nonce on our side. */
  private finish(slot: Slot): void {
    slot.done = true;
    if (this.slots.get(slot.nonce) === slot) this.slots.delete(slot.nonce);
    for (const hash of slot.hashes) this.follower.forget(hash);
  }

  /** Answers the caller with an error; the nonce stays reserved until it is used on chain. */
  private fail(slot: Slot, reason: TxFailureReason, why: string, cause?: unknown): void {
    if (slot.settled) return;
    slot.settled = true;
    clearTimeout(slot.timer);
    slot.reject?.(new TxError(reason, `${this.address}: ${why}`, { hash: slot.hash, cause }));
  }

  /** Sends the slot's bytes; `again` counts it in `resent` once the node takes them as new. */
  private async submit(slot: Slot, again = false): Promise<void> {
    if (slot.busy || slot.done) return;
    slot.busy = true;
    try {
      await this.transmit(slot, again);
    } catch (error) {
      // A lookup on the way failed (the node is unreachable): the caller gets its answer, and the
      // stale check settles the nonce later.
      this.fail(slot, "rpc", `sending failed: ${(error as Error).message}`, error);
    } finally {
      slot.busy = false;
    }
  }

  private async transmit(slot: Slot, again: boolean): Promise<void> {
    for (let attempt = 0; !slot.done; attempt++) {
      try {
        await this.rpc.call<string>("eth_sendRawTransaction", [slot.raw]);
        if (again) slot.resent++;
        this.accepted(slot);
        return;
      } catch (error) {
        if (error instanceof RpcTransportError) {
          if (attempt >= TRANSPORT_RETRIES) {
            this.fail(slot, "rpc", `eth_sendRawTransaction failed: ${error.message}`, error);
            return;
          }
          // The first resend goes at once; the node may just have dropped one connection.
          if (attempt > 0) await sleep(100 * attempt);
          if (slot.done) return;
          slot.resent++;
          again = false;
          continue;
        }
        if (!(error instanceof RpcError)) throw error;
        if (!(await this.refused(slot, error))) return;
        attempt = -1;
        again = false;
      }
    }
  }

  /**
   * The node holds the slot's transaction. `at`: when it took it (now, for an answer just read),
   * or null when the taking was never seen (its answer was lost): the time is then kept.
   */
  private accepted(slot: Slot, at: number | null = Date.now()): void {
    if (at !== null) slot.acceptedAt = at;
    slot.sentBlock = this.follower.head;
    slot.announced = slot.hash;
    this.onSent?.(slot.hash, slot.nonce);
  }

  /** Handles a node's refusal; true when `slot` (changed or not) should be sent again now. */
  private async refused(slot: Slot, error: RpcError): Promise<boolean> {
    const refusal = classifySendRefusal(`${error.message} ${JSON.stringify(error.data ?? "")}`);
    if (refusal === "known") {
      // An earlier send of these bytes reached the node; when is not known if we never saw it.
      this.accepted(slot, slot.acceptedAt ?? Date.now());
      return false;
    }
    if (refusal === "nonce-low" || refusal === "underpriced") {
      const receipt = await this.findReceipt(slot);
      if (receipt) {
        // An earlier send whose answer was lost reached the node: the nonce is ours.
        this.accepted(slot, null);
        this.mined(slot, receipt);
        return false;
      }
      if (slot.kind === "filler" || slot.settled) {
        // The nonce is used by someone else: no gap to fill.
        this.finish(slot);
        return false;
      }
      await this.resign(slot);
      return !slot.done;
    }
    if (refusal === "nonce-high") {
      if (slot.repairs >= MAX_REPAIRS) {
        this.fail(slot, "nonce", `node refuses nonce ${slot.nonce}: ${error.reason}`, error);
        return false;
      }
      slot.repairs++;
      void this.repair();
      return false;
    }
    // Any other refusal: the transaction is not in the pool and will not be; a filler takes the
    // nonce so the transactions after it still run.
    this.fail(slot, "rpc", `node refused the transaction: ${error.reason}`, error);
    if (slot.kind === "filler") this.finish(slot);
    else this.becomeFiller(slot);
    return slot.kind === "filler" && !slot.done;
  }

  private becomeFiller(slot: Slot): void {
    for (const hash of slot.hashes) this.follower.forget(hash);
    slot.kind = "filler";
    slot.tx = { to: this.address, data: "0x", gasLimit: FILLER_GAS };
    slot.hashes = [];
    this.sign(slot);
  }

  private async findReceipt(slot: Slot): Promise<MinedReceipt | undefined> {
    for (const hash of slot.hashes) {
      const known = this.follower.receipt(hash);
      if (known) return known;
    }
    const found = await Promise.all(
      slot.hashes.map((hash) =>
        this.rpc.call<RawReceipt | null>("eth_getTransactionReceipt", [hash]).catch(() => null),
      ),
    );
    const raw = found.find((receipt) => receipt !== null);
    if (!raw) return undefined;
    const block = await this.rpc
      .call<{ timestamp: string } | null>("eth_getBlockByNumber", [raw.blockNumber, false])
      .catch(() => null);
    return {
      hash: raw.transactionHash,
      blockNumber: Number(BigInt(raw.blockNumber)),
      blockTimestamp: block ? Number(BigInt(block.timestamp)) : 0,
      seenAt: Date.now(),
      status: BigInt(raw.status) === 1n ? "success" : "reverted",
      gasUsed: BigInt(raw.gasUsed),
      logs: raw.logs.map(({ address, topics, data }) => ({ address, topics, data })),
    };
  }

  private async count(tag: "pending" | "latest"): Promise<number> {
    return Number(
      BigInt(await this.rpc.call<string>("eth_getTransactionCount", [this.address, tag])),
    );
  }

  /**
   * The chain's latest count is the first nonce it still waits for: every nonce from there that no
   * transaction of ours holds gets a filler, then every unmined transaction is sent again in order.
   */
  private async repair(): Promise<void> {
    let latest: number;
    try {
      latest = await this.count("latest");
    } catch {
      return; // the next stale check tries again
    }
    this.next = Math.max(this.next, latest);
    for (let nonce = latest; nonce < this.next; nonce++) {
      if (!this.slots.has(nonce)) {
        this.newSlot("filler", { to: this.address, data: "0x", gasLimit: FILLER_GAS }, nonce);
      }
    }
    const ordered = [...this.slots.values()]
      .filter((slot) => slot.nonce >= latest && !slot.done && !slot.busy)
      .sort((a, b) => a.nonce - b.nonce);
    for (const slot of ordered) {
      await this.submit(slot, true);
    }
  }

  private checkStale(head: number): void {
    if (this.checking || this.slots.size === 0) return;
    const stale = [...this.slots.values()]
      .filter((slot) => !slot.busy && !slot.done && head - slot.sentBlock >= this.resendAfterBlocks)
      .sort((a, b) => a.nonce - b.nonce);
    if (stale.length === 0) return;
    this.checking = true;
    void this.check(stale, head)
      .catch(() => undefined)
      .finally(() => (this.checking = false));
  }

  private async check(stale: Slot[], head: number): Promise<void> {
    const [latest, ...found] = await Promise.all([
      this.count("latest"),
      ...stale.map((slot) =>
        this.rpc.call<{ blockNumber: string | null } | null>("eth_getTransactionByHash", [
          slot.hash,
        ]),
      ),
    ]);
    let holes = false;
    for (const [i, slot] of stale.entries()) {
      if (slot.done || slot.busy) continue;
      const tx = found[i];
      if (tx && tx.blockNumber !== null) {
        // Mined: the follower delivers the receipt (or already has).
        const receipt = await this.findReceipt(slot);
        if (receipt) this.mined(slot, receipt);
        continue;
      }
      if (slot.nonce < latest) {
        // Replaced: another transaction was mined with this nonce.
        const receipt = await this.findReceipt(slot);
        if (receipt) this.mined(slot, receipt);
        else if (slot.kind === "filler" || slot.settled) this.finish(slot);
        else {
          await this.resign(slot);
          await this.submit(slot);
        }
        continue;
      }
      if (tx === null) {
        // Dropped from the pool: the same bytes again, or a filler if the caller has given up.
        if (slot.kind === "call" && slot.settled) this.becomeFiller(slot);
        await this.submit(slot, true);
        continue;
      }
      // Still pending: waits behind a lower nonce, or the chain is slow.
      slot.sentBlock = head;
      if (slot.nonce > latest) holes = true;
    }
    if (holes) {
      for (let nonce = latest; nonce < this.next; nonce++) {
        if (this.slots.has(nonce)) continue;
        const filler = this.newSlot(
          "filler",
          { to: this.address, data: "0x", gasLimit: FILLER_GAS },
          nonce,
        );
        await this.submit(filler);
      }
    }
  }
}

type RawReceipt = {
  transactionHash: string;
  blockNumber: string;
  status: string;
  gasUsed: string;
  logs: { address: string; topics: string[]; data: string }[];
};
