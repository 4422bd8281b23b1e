import { AccountSender, TxError, type SendResult, type TxRequest } from "./chain/sender.js";
import type { TxEvent, TxKind } from "./protocol.js";

/**
 * Sends one transaction and reports it, mined, reverted or lost, before returning: every
 * transaction of the load test becomes exactly one TxEvent, whoever sent it.
 */
export async function sendReported(
  sender: AccountSender,
  tx: TxRequest,
  report: (event: TxEvent) => void,
  about: { kind: TxKind; agent: string; trade?: number; run?: number },
): Promise<SendResult> {
  const sentAt = Date.now();
  try {
    const result = await sender.send(tx);
    report({
      type: "tx",
      ...about,
      hash: result.hash,
      sentAt: result.sentAt,
      ...(result.acceptedAt === undefined ? {} : { acceptedAt: result.acceptedAt }),
      minedAt: result.seenAt,
      block: result.blockNumber,
      status: result.status,
      gasUsed: result.gasUsed.toString(),
      resent: result.resent,
    });
    return result;
  } catch (error) {
    report({
      type: "tx",
      ...about,
      hash: error instanceof TxError ? (error.hash ?? "") : "",
      sentAt,
      status: "lost",
    });
    throw error;
  }
}
