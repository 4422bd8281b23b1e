import { quantity, type JsonRpc } from "./rpc.js";

/** A block as the worker saw it; `seenAt` is the worker's clock (ms since the epoch). */
export type BlockSeen = {
  number: number;
  timestamp: number;
  seenAt: number;
  /** When the node's newHeads notification of this block arrived (absent: learned by polling). */
  announcedAt?: number;
  transactions: number;
  gasUsed: bigint;
  gasLimit: bigint;
};

export type MinedReceipt = {
  hash: string;
  blockNumber: number;
  blockTimestamp: number;
  seenAt: number;
  status: "success" | "reverted";
  gasUsed: bigint;
  logs: { address: string; topics: string[]; data: string }[];
};

type RawHeader = {
  number: string;
  timestamp: string;
  gasUsed: string;
  gasLimit: string;
  transactions: unknown[];
};

type RawReceipt = {
  transactionHash: string;
  status: string;
  gasUsed: string;
  logs: { address: string; topics: string[]; data: string }[];
};

/** Blocks fetched together when the follower is behind: one HTTP batch of 2 calls per block. */
const CATCH_UP_BLOCKS = 16;
/** Receipts of the latest blocks stay known, so a watch that starts late still resolves. */
const REMEMBERED_BLOCKS = 64;

/** A follower polls this many times per block period when it has no subscription. */
const POLLS_PER_PERIOD = 20;

/**
 * How often to poll for the head: often enough that a block waits on average a fortieth of the
 * period before it is seen, at most every 20 ms (a faster head poll costs CPU and finds nothing).
 */
export function pollIntervalMs(blockPeriodSeconds: number): number {
  return Math.max(20, Math.min(250, Math.round((blockPeriodSeconds * 1000) / POLLS_PER_PERIOD)));
}

/**
 * The JSON-RPC WebSocket endpoint of a node that serves it on its HTTP port (anvil does; Besu has
 * a port of its own): the same address with ws:// for http://.
 */
export function samePortWebSocket(httpUrl: string): string {
  return httpUrl.replace(/^http(s?):\/\//, "ws$1://");
}

/**
 * The one reader of new blocks in a worker: learns of a new head from an `eth_subscribe newHeads`
 * subscription when the node offers one (a block is read the moment it exists), else by polling
 * the head; for every new block it reads its header and all its receipts in one batched request,
 * never one poll per transaction. Every transaction an agent waits for resolves from there. Blocks
 * are handled strictly in order, each once; a follower that fell behind catches up block by block.
 * With a subscription the head is still polled, once a `subscribedPollMs`, in case a notification
 * is lost; a subscription that fails or closes leaves the follower polling every `pollMs`.
 */
export class BlockFollower {
  private readonly rpc: JsonRpc;
  private readonly pollMs: number;
  private readonly watchers = new Map<string, Array<(receipt: MinedReceipt) => void>>();
  private readonly listeners: Array<(block: BlockSeen) => void> = [];
  private readonly recent = new Map<string, MinedReceipt>();
  private readonly recentBlocks: string[][] = [];
  /** Transactions of blocks read without receipts (nobody watched): hash -> where it was seen. */
  private readonly unread = new Map<string, { block: number; timestamp: number; seenAt: number }>();
  private readonly receipts: "always" | "watched";
  private next = 0;
  private current = -1;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly subscribeUrl: string | undefined;
  private readonly subscribedPollMs: number;
  private socket: WebSocket | undefined;
  /** Whether the node confirmed the newHeads subscription (and it has not closed since). */
  subscribed = false;
  /** The poll under way; a head announced meanwhile is read right after it. */
  private polling: Promise<void> | undefined;
  private announced = -1;
  /** Arrival time of each newHeads notification not yet handled, by block number. */
  private readonly announcedAt = new Map<number, number>();
  /** The last polling failure, kept for diagnostics; polling goes on. */
  lastError: Error | undefined;

  /**
   * `receipts: "watched"` reads a block's receipts only while someone waits for a transaction
   * (a follower that mostly counts blocks spares the node the largest answer it gives); a
   * transaction watched after its block was read without them is fetched on its own.
   */
  constructor(
    rpc: JsonRpc,
    options: {
      pollMs: number;
      receipts?: "always" | "watched";
      /** A WebSocket JSON-RPC endpoint to subscribe to new heads on. */
      subscribeUrl?: string;
      /** Head polling while subscribed (default 1000 ms). */
      subscribedPollMs?: number;
    },
  ) {
    this.rpc = rpc;
    this.pollMs = options.pollMs;
    this.receipts = options.receipts ?? "always";
    this.subscribeUrl = options.subscribeUrl;
    this.subscribedPollMs = options.subscribedPollMs ?? 1000;
  }

  /** Starts following at the current head: blocks after it are reported. */
  async start(): Promise<void> {
    if (this.running) return;
    this.current = Number(BigInt(await this.rpc.call<string>("eth_blockNumber", [])));
    this.next = this.current + 1;
    this.running = true;
    if (this.subscribeUrl !== undefined) await this.subscribe(this.subscribeUrl);
    this.schedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.subscribed = false;
    this.socket?.close();
    this.socket = undefined;
  }

  /** The number of the last block handled. */
  get head(): number {
    return this.current;
  }

  /** Resolves with the receipt once a followed block holds `hash`; waits as long as it takes. */
  watch(hash: string): Promise<MinedReceipt> {
    const key = hash.toLowerCase();
    const known = this.recent.get(key);
    if (known) return Promise.resolve(known);
    const unread = this.unread.get(key);
    if (unread !== undefined) return this.readReceipt(key, unread);
    return new Promise((resolve) => {
      const list = this.watchers.get(key);
      if (list) list.push(resolve);
      else this.watchers.set(key, [resolve]);
    });
  }

  forget(hash: string): void {
    this.watchers.delete(hash.toLowerCase());
  }

  /** The receipt of `hash` if it is in one of the latest followed blocks. */
  receipt(hash: string): MinedReceipt | undefined {
    return this.recent.get(hash.toLowerCase());
  }

  onBlock(listener: (block: BlockSeen) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Subscribes to new heads; resolves once the node answered (or refused, or the socket failed:
   * then the follower polls). Never throws: a node without WebSocket is followed by polling.
   */
  private subscribe(url: string): Promise<void> {
    return new Promise((resolve) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        this.lastError = error instanceof Error ? error : new Error(String(error));
        resolve();
        return;
      }
      this.socket = socket;
      const settle = setTimeout(() => {
        socket.close();
        resolve();
      }, 5000);
      const done = () => {
        clearTimeout(settle);
        resolve();
      };
      socket.addEventListener("open", () =>
        socket.send(
          JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }),
        ),
      );
      socket.addEventListener("message", (event) => {
        let message: {
          id?: number;
          result?: unknown;
          error?: { message: string };
          method?: string;
          params?: { result?: { number?: string } };
        };
        try {
          message = JSON.parse(String(event.data));
        } catch {
          return;
        }
        if (message.id === 1) {
          if (message.error !== undefined || typeof message.result !== "string") {
            this.lastError = new Error(
              `eth_subscribe newHeads: ${message.error?.message ?? "no id"}`,
            );
            socket.close();
          } else {
            this.subscribed = true;
          }
          done();
          return;
        }
        const number = message.params?.result?.number;
        if (message.method === "eth_subscription" && typeof number === "string")
          this.announce(Number(BigInt(number)));
      });
      const lost = () => {
        this.subscribed = false;
        if (this.socket === socket) this.socket = undefined;
        done();
        // Polling picks up at its own pace: no longer the subscribed interval.
        if (this.running && this.polling === undefined) this.schedule();
      };
      // A refused connection fires "error" alone (no "close"), a dropped one "close".
      socket.addEventListener("error", () => {
        this.lastError = new Error(`newHeads subscription on ${url} failed`);
        lost();
      });
      socket.addEventListener("close", lost);
    });
  }

  /** The node announced head `number`: read up to it now (or right after the poll under way). */
  private announce(number: number): void {
    if (!this.announcedAt.has(number)) this.announcedAt.set(number, Date.now());
    this.announced = Math.max(this.announced, number);
    if (this.polling === undefined) this.pollNow(number);
  }

  private schedule(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.pollNow(),
      this.subscribed ? this.subscribedPollMs : this.pollMs,
    );
  }

  private pollNow(latest?: number): void {
    if (!this.running || this.polling !== undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.polling = this.poll(latest).finally(() => {
      this.polling = undefined;
      if (this.running && this.announced >= this.next) this.pollNow(this.announced);
      else this.schedule();
    });
  }

  private async poll(known?: number): Promise<void> {
    try {
      const latest = known ?? Number(BigInt(await this.rpc.call<string>("eth_blockNumber", [])));
      while (this.running && this.next <= latest) {
        const numbers: number[] = [];
        for (let n = this.next; n <= latest && numbers.length < CATCH_UP_BLOCKS; n++)
          numbers.push(n);
        const blocks = await Promise.all(numbers.map((n) => this.fetchBlock(n)));
        for (const block of blocks) {
          if (!this.running) return;
          this.handle(block.header, block.receipts);
        }
      }
    } catch (error) {
      this.lastError = error instanceof Error ? error : new Error(String(error));
    }
  }

  private async fetchBlock(
    n: number,
  ): Promise<{ header: RawHeader; receipts: RawReceipt[] | undefined }> {
    const wanted = this.receipts === "always" || this.watchers.size > 0;
    const [header, receipts] = await Promise.all([
      this.rpc.call<RawHeader | null>("eth_getBlockByNumber", [quantity(n), false]),
      wanted
        ? this.rpc.call<RawReceipt[] | null>("eth_getBlockReceipts", [quantity(n)])
        : undefined,
    ]);
    if (header === null || receipts === null) throw new Error(`block ${n} is not available yet`);
    return { header, receipts };
  }

  /** The receipt of a transaction whose block was read without receipts. */
  private async readReceipt(
    key: string,
    where: { block: number; timestamp: number; seenAt: number },
  ): Promise<MinedReceipt> {
    const raw = await this.rpc.call<RawReceipt | null>("eth_getTransactionReceipt", [key]);
    if (raw === null) throw new Error(`no receipt for ${key} though block ${where.block} holds it`);
    return toReceipt(raw, where.block, where.timestamp, where.seenAt);
  }

  private handle(header: RawHeader, receipts: RawReceipt[] | undefined): void {
    const seenAt = Date.now();
    const number = Number(BigInt(header.number));
    const announcedAt = this.announcedAt.get(number);
    this.announcedAt.delete(number);
    const block: BlockSeen = {
      number,
      timestamp: Number(BigInt(header.timestamp)),
      seenAt,
      ...(announcedAt === undefined ? {} : { announcedAt }),
      transactions: header.transactions.length,
      gasUsed: BigInt(header.gasUsed),
      gasLimit: BigInt(header.gasLimit),
    };
    const hashes: string[] = [];
    if (receipts === undefined) {
      for (const hash of header.transactions as string[]) {
        const key = hash.toLowerCase();
        hashes.push(key);
        this.unread.set(key, { block: block.number, timestamp: block.timestamp, seenAt });
      }
    } else {
      for (const raw of receipts) {
        const key = raw.transactionHash.toLowerCase();
        hashes.push(key);
        this.recent.set(key, toReceipt(raw, block.number, block.timestamp, seenAt));
      }
    }
    this.recentBlocks.push(hashes);
    if (this.recentBlocks.length > REMEMBERED_BLOCKS) {
      for (const key of this.recentBlocks.shift()!) {
        this.recent.delete(key);
        this.unread.delete(key);
      }
    }
    this.current = block.number;
    this.next = block.number + 1;
    for (const listener of this.listeners) {
      try {
        listener(block);
      } catch (error) {
        this.lastError = error instanceof Error ? error : new Error(String(error));
      }
    }
    for (const key of hashes) {
      const waiting = this.watchers.get(key);
      if (!waiting) continue;
      this.watchers.delete(key);
      const receipt = this.recent.get(key);
      if (receipt !== undefined) {
        for (const resolve of waiting) resolve(receipt);
      } else {
        // Watched between the receipts decision and this block: read it on its own.
        const where = this.unread.get(key)!;
        void this.readReceipt(key, where).then(
          (read) => waiting.forEach((resolve) => resolve(read)),
          (error: unknown) => {
            this.lastError = error instanceof Error ? error : new Error(String(error));
            this.watchers.set(key, waiting);
          },
        );
      }
    }
  }
}

function toReceipt(
  raw: RawReceipt,
  blockNumber: number,
  blockTimestamp: number,
  seenAt: number,
): MinedReceipt {
  return {
    hash: raw.transactionHash,
    blockNumber,
    blockTimestamp,
    seenAt,
    status: BigInt(raw.status) === 1n ? "success" : "reverted",
    gasUsed: BigInt(raw.gasUsed),
    logs: raw.logs.map(({ address, topics, data }) => ({ address, topics, data })),
  };
}
