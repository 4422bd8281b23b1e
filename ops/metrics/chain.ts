import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { rpcCall } from "../engines/rpc.js";

/** Seconds buckets for block intervals: 1 s QBFT blocks up to the paper's ~12 s and stalls. */
const INTERVAL_BUCKETS = [0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 12, 20, 30, 60, 120];

type Block = {
  number: string;
  timestamp: string;
  gasUsed: string;
  gasLimit: string;
  transactions: string[];
};

/**
 * Follows the chain head over JSON-RPC and exports what an operator watches: head height, block
 * interval, transactions and gas per block, pending transactions. Every block is counted once, in
 * order, even when a poll finds several new ones.
 */
export class ChainFollower {
  private readonly head: Gauge;
  private readonly interval: Histogram;
  private readonly txs: Counter;
  private readonly gas: Counter;
  private readonly blocks: Counter;
  private readonly fill: Gauge;
  private readonly pending: Gauge;
  private last?: { number: bigint; timestamp: bigint };
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;

  constructor(
    private readonly rpcUrl: string,
    registry: Registry,
    private readonly pollMs = 500,
  ) {
    const registers = [registry];
    this.head = new Gauge({
      name: "gridchain_chain_head_height",
      help: "Number of the newest block",
      registers,
    });
    this.interval = new Histogram({
      name: "gridchain_block_interval_seconds",
      help: "Seconds between consecutive blocks (timestamps)",
      buckets: INTERVAL_BUCKETS,
      registers,
    });
    this.blocks = new Counter({ name: "gridchain_blocks_total", help: "Blocks seen", registers });
    this.txs = new Counter({
      name: "gridchain_block_transactions_total",
      help: "Transactions in blocks seen",
      registers,
    });
    this.gas = new Counter({
      name: "gridchain_block_gas_used_total",
      help: "Gas used by blocks seen",
      registers,
    });
    this.fill = new Gauge({
      name: "gridchain_block_fill_ratio",
      help: "gasUsed / gasLimit of the newest block",
      registers,
    });
    this.pending = new Gauge({
      name: "gridchain_pending_transactions",
      help: "Transactions waiting in the node's pool",
      registers,
    });
  }

  start(): void {
    const tick = () => {
      this.polling = this.poll()
        .catch(() => undefined)
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.pollMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** One poll: reads every block since the last one seen. */
  async poll(): Promise<void> {
    const height = BigInt(await rpcCall<string>(this.rpcUrl, "eth_blockNumber"));
    let next = this.last === undefined ? height : this.last.number + 1n;
    for (; next <= height; next++) {
      const block = await rpcCall<Block>(this.rpcUrl, "eth_getBlockByNumber", [
        `0x${next.toString(16)}`,
        false,
      ]);
      const timestamp = BigInt(block.timestamp);
      if (this.last !== undefined) {
        this.interval.observe(Number(timestamp - this.last.timestamp));
        this.blocks.inc();
        this.txs.inc(block.transactions.length);
        this.gas.inc(Number(BigInt(block.gasUsed)));
      }
      this.fill.set(Number(BigInt(block.gasUsed)) / Number(BigInt(block.gasLimit)));
      this.last = { number: next, timestamp };
    }
    this.head.set(Number(height));
    const pool = await rpcCall<{ pending: string }>(this.rpcUrl, "txpool_status").catch(
      () => undefined,
    );
    if (pool !== undefined) this.pending.set(Number(BigInt(pool.pending)));
  }
}
