import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { rpcCall } from "../engines/rpc.js";
import { createMetric } from "./catalogue.js";

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
    this.head = createMetric(registry, "gridchain_chain_head_height");
    this.interval = createMetric(registry, "gridchain_block_interval_seconds");
    this.blocks = createMetric(registry, "gridchain_blocks_total");
    this.txs = createMetric(registry, "gridchain_block_transactions_total");
    this.gas = createMetric(registry, "gridchain_block_gas_used_total");
    this.fill = createMetric(registry, "gridchain_block_fill_ratio");
    this.pending = createMetric(registry, "gridchain_pending_transactions");
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
