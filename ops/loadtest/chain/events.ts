import { LogDescription, type EventFragment, type Interface } from "ethers";

type Log = { topics: readonly string[]; data: string };

/**
 * Decodes one contract's logs with the event topics hashed once. ethers' `Interface.parseLog`
 * finds a log's event by hashing the signature of every event of the ABI until one matches
 * (`EventFragment.topicHash` is computed on each read): for the market's ABI that is about twenty
 * keccak hashes per log, which made log decoding a third of a load-test worker's CPU. Here a log
 * costs one map lookup and the decoding itself.
 */
export class EventReader {
  private readonly byTopic = new Map<string, EventFragment>();

  constructor(readonly contract: Interface) {
    contract.forEachEvent((fragment) => {
      if (!fragment.anonymous) this.byTopic.set(fragment.topicHash, fragment);
    });
  }

  /** The decoded event, or null for a log of another contract (or an event this ABI lacks). */
  parse(log: Log): LogDescription | null {
    const topic = log.topics[0]?.toLowerCase();
    const fragment = topic === undefined ? undefined : this.byTopic.get(topic);
    if (fragment === undefined) return null;
    try {
      const args = this.contract.decodeEventLog(fragment, log.data, log.topics);
      return new LogDescription(fragment, topic!, args);
    } catch {
      // Same topic, other layout (another contract's event of the same signature but indexing).
      return null;
    }
  }
}

const readers = new WeakMap<Interface, EventReader>();

/** The reader of `contract`, made once per Interface object. */
export function eventReader(contract: Interface): EventReader {
  let reader = readers.get(contract);
  if (reader === undefined) {
    reader = new EventReader(contract);
    readers.set(contract, reader);
  }
  return reader;
}
