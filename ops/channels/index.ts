/**
 * Payment channels, client side: balance proofs (EIP-712), the channel client with its
 * write-ahead store, the watcher, and the link to market orders.
 */
export { BalanceProofRejected, ChannelClient } from "./client.js";
export type {
  ChainAccess,
  ChannelClientOptions,
  ChannelView,
  RejectReason,
  Signed,
} from "./client.js";
export { defaultEcdsa, ethersEcdsa, type Ecdsa } from "./ecdsa.js";
export { ORDER_READER_ABI, marketOrders, orderPrice } from "./market.js";
export type { MarketOrder, OrderSource } from "./market.js";
export { ChannelsTypedData, INTENT_TYPES, orderPaymentHash, typedDataDomain } from "./proofs.js";
export type {
  Address,
  BalanceProofFields,
  ChannelsDomain,
  CooperativeSettleFields,
  Credits,
  Hash,
  SignedBalanceProof,
  WithdrawFields,
} from "./proofs.js";
export { ChannelWatcher } from "./watcher.js";
export type { WatchOutcome, WatchedProof } from "./watcher.js";
