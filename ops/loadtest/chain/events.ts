import { LogDescription, type EventFragment, type Interface, type Result } from "ethers";

type Log = { topics: readonly string[]; data: string };

/** An event of a log, its arguments decoded when first read. */
export type LazyEvent = { readonly name: string; readonly args: Result };

/**
 * Decodes one contract's logs with the event topics hashed once. ethers' `Interface.parseLog`
 * finds a log's event by hashing the signature of every event of the ABI until one matches
 * (`EventFragment.topicHash` is computed on each read): for the market's ABI that is about twenty
 * keccak hashes per log, which made log decoding a third of a load-test worker's CPU. Here a log
 * costs one map lookup and, only when its arguments are read, the decoding itself (ethers' ABI
 * decoding is the next largest cost: an agent mostly needs an event's name).
 */
export class EventReader {
  private readonly byTopic = new Map<string, EventFragment>();
  private readonly topicByName = new Map<string, string>();

  constructor(readonly contract: Interface) {
    contract.forEachEvent((fragment) => {
      if (fragment.anonymous) return;
      const topic = fragment.topicHash;
      this.byTopic.set(topic, fragment);
      this.topicByName.set(fragment.name, topic);
    });
  }

  /** The events of `logs` this ABI knows, in order; each decodes its arguments when first read. */
  events(logs: readonly Log[]): LazyEvent[] {
    const events: LazyEvent[] = [];
    for (const log of logs) {
      const fragment = this.byTopic.get(log.topics[0]?.toLowerCase() ?? "");
      if (fragment === undefined) continue;
      const contract = this.contract;
      let args: Result | undefined;
      events.push({
        name: fragment.name,
        get args() {
          return (args ??= contract.decodeEventLog(fragment, log.data, log.topics));
        },
      });
    }
    return events;
  }

  /** Argument `arg` of the first `event` in `logs`; undefined when no log holds that event. */
  arg(logs: readonly Log[], event: string, arg: string): unknown {
    const topic = this.topicByName.get(event);
    const log = logs.find((entry) => entry.topics[0]?.toLowerCase() === topic);
    return log === undefined ? undefined : this.parse(log)?.args.getValue(arg);
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
