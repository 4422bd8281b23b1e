import { OperatorError } from "../errors.js";
import { balance, isFrozen, type ChannelState } from "./ledger.js";
import type { Ecdsa } from "./ecdsa.js";
import type { CooperativeSettleFields, Credits, Hash, WithdrawFields } from "./proofs.js";

/**
 * The two intents a partner countersigns, built from and checked against the client's own books.
 * Raiden's rules: a withdrawal is bounded by the participant's balance in the state both sides
 * hold, the partner reserves what it signed until the withdrawal expires; a cooperative settlement
 * is the split of the latest state, bound to both proof nonces and an expiry, and freezes the
 * channel while it can be used.
 */

/** A signed intent as it travels between the two clients. */
export type Signed<Fields> = { fields: Fields; signature: string };

/** The latest proof nonce and total of each side, as this client holds them. */
function latest(state: ChannelState) {
  return {
    sentNonce: state.sent?.nonce ?? 0n,
    sent: state.sent?.transferredAmount ?? 0n,
    receivedNonce: state.received?.nonce ?? 0n,
    received: state.received?.transferredAmount ?? 0n,
  };
}

export function checkPartnerSigned(
  ecdsa: Pick<Ecdsa, "recover">,
  state: ChannelState,
  digest: Hash,
  signature: string,
): void {
  if (ecdsa.recover(digest, signature) !== state.partner) {
    throw new OperatorError(`signature is not ${state.partner}'s for channel ${state.channelId}`);
  }
}

/**
 * A withdrawal or cooperative settlement binds a state without locks ({PaymentChannels-withdraw}):
 * signing one while locks are pending would give them up, so both wait until every lock is released.
 */
export function checkNoLocks(state: ChannelState, action: string): void {
  const pending = state.sentLocks.length + state.receivedLocks.length;
  if (pending > 0) {
    throw new OperatorError(
      `channel ${state.channelId} cannot ${action}: ${pending} locks pending`,
      {
        details: "a withdrawal or cooperative settlement binds a state without locks",
        hint: "release the locks once the market decided their orders, or close the channel",
      },
    );
  }
}

export function checkOpen(state: ChannelState, now: bigint, action: string): void {
  if (state.closed || state.settled) {
    throw new OperatorError(`channel ${state.channelId} is closed`, { hint: "open a new channel" });
  }
  if (isFrozen(state, now)) {
    throw new OperatorError(`channel ${state.channelId} cannot ${action}: it is frozen`, {
      details: `a cooperative settlement was signed, valid until ${state.frozenUntil}`,
      hint: "settle it cooperatively, or wait until block time passes its expiry",
    });
  }
}

/**
 * The withdrawal of the partner this client (its counterparty) agrees to: the state it binds is the
 * partner's latest proof held here and this client's latest proof, and `totalWithdraw` must fit the
 * partner's capacity in that state, net of every withdrawal already signed and still usable.
 */
export function partnerWithdrawal(
  state: ChannelState,
  request: { totalWithdraw: Credits; expiry: bigint },
  now: bigint,
): WithdrawFields {
  checkOpen(state, now, "sign a withdrawal");
  checkNoLocks(state, "sign a withdrawal");
  const { sentNonce, sent, receivedNonce, received } = latest(state);
  checkWithdrawAmount(state, "partner", request.totalWithdraw);
  return {
    channelId: state.channelId,
    participant: state.partner,
    totalWithdraw: request.totalWithdraw,
    expiry: request.expiry,
    nonce: receivedNonce,
    transferredAmount: received,
    partnerNonce: sentNonce,
    partnerTransferredAmount: sent,
  };
}

/**
 * Checks a withdrawal the partner confirmed for this client before it is signed and sent: it is
 * this client's, and it binds no payment this client did not make nor more than the partner paid.
 */
export function checkOwnWithdrawal(state: ChannelState, fields: WithdrawFields, now: bigint): void {
  checkOpen(state, now, "withdraw");
  checkNoLocks(state, "withdraw");
  const { sentNonce, sent, receivedNonce, received } = latest(state);
  const binds = (nonce: bigint, amount: Credits, heldNonce: bigint, held: Credits) =>
    nonce < heldNonce ? amount <= held : nonce === heldNonce && amount === held;
  if (
    fields.channelId !== state.channelId ||
    fields.participant !== state.self ||
    !binds(fields.nonce, fields.transferredAmount, sentNonce, sent) ||
    !binds(fields.partnerNonce, fields.partnerTransferredAmount, receivedNonce, received)
  ) {
    throw new OperatorError(
      `withdrawal confirmation for channel ${state.channelId} does not match`,
      {
        details: `it binds ${fields.participant}'s proof #${fields.nonce} (${fields.transferredAmount}) and the partner's #${fields.partnerNonce} (${fields.partnerTransferredAmount}); held: sent #${sentNonce} (${sent}), received #${receivedNonce} (${received})`,
      },
    );
  }
  checkWithdrawAmount(state, "self", fields.totalWithdraw);
}

function checkWithdrawAmount(
  state: ChannelState,
  side: "self" | "partner",
  totalWithdraw: Credits,
): void {
  const withdrawn = side === "self" ? state.selfWithdrawn : state.partnerWithdrawn;
  // Cumulative: a new total replaces every earlier one, so it is bounded by the balance alone;
  // the reservations only bound the proofs that may still be accepted (see `capacity`).
  const limit = withdrawn + balance(state, side);
  if (totalWithdraw <= withdrawn || totalWithdraw > limit) {
    throw new OperatorError(
      `channel ${state.channelId} cannot withdraw ${totalWithdraw} in total`,
      {
        details: `withdrawn ${withdrawn}, at most ${limit} with the proofs held and the withdrawals signed`,
        hint: "pass the new cumulative total, within the balance",
      },
    );
  }
}

/** The cooperative settlement of the state this client holds now, void after `expiry`. */
export function cooperativeFields(state: ChannelState, expiry: bigint): CooperativeSettleFields {
  checkNoLocks(state, "settle cooperatively");
  const { sentNonce, receivedNonce } = latest(state);
  const selfIsOne = state.participant1 === state.self;
  const selfAmount = balance(state, "self");
  const partnerAmount = balance(state, "partner");
  return {
    channelId: state.channelId,
    participant1: state.participant1,
    amount1: selfIsOne ? selfAmount : partnerAmount,
    nonce1: selfIsOne ? sentNonce : receivedNonce,
    participant2: selfIsOne ? state.partner : state.self,
    amount2: selfIsOne ? partnerAmount : selfAmount,
    nonce2: selfIsOne ? receivedNonce : sentNonce,
    expiry,
  };
}

/**
 * The longest a countersigned cooperative settlement may stay usable. If its transaction fails, the
 * signature is public and the channel stays frozen until the expiry: an offer further out would let
 * the partner freeze this client's channel at will.
 */
export const MAX_COOPERATIVE_SECONDS = 3600n;

/** Checks that the partner's offer is exactly the split of the state held here, expiring soon. */
export function checkCooperativeOffer(
  state: ChannelState,
  offer: CooperativeSettleFields,
  now: bigint,
): void {
  if (offer.expiry > now + MAX_COOPERATIVE_SECONDS) {
    throw new OperatorError(
      `cooperative settlement of channel ${state.channelId} expires too late`,
      {
        details: `expiry ${offer.expiry}, block time ${now}: at most ${MAX_COOPERATIVE_SECONDS} s ahead`,
        hint: "ask the partner for an offer that expires sooner",
      },
    );
  }
  const own = cooperativeFields(state, offer.expiry);
  const same = (Object.keys(own) as (keyof CooperativeSettleFields)[]).every(
    (key) => own[key] === offer[key],
  );
  if (!same) {
    throw new OperatorError(`cooperative settlement of channel ${state.channelId} does not match`, {
      details: `offered ${offer.amount1}/${offer.amount2} at nonces ${offer.nonce1}/${offer.nonce2}; held ${own.amount1}/${own.amount2} at ${own.nonce1}/${own.nonce2}`,
    });
  }
}
