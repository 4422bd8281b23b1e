import { join } from "node:path";
import {
  NonceManager,
  SigningKey,
  type ContractRunner,
  type JsonRpcProvider,
  type Signer,
} from "ethers";
import { ChannelClient, marketOrders, orderPrice } from "../channels/index.js";
import type { Address } from "../channels/proofs.js";
import { formatCredits, type ConsortiumAccount } from "../contracts/consortium.js";
import type { DeploymentManifest } from "../contracts/manifest.js";
import { OperatorError } from "../errors.js";
import type { PaymentChannels } from "../../types/ethers-contracts/index.js";
import { MarketClient, nextSlot, type MarketContracts, type Wh } from "./client.js";

/** One account of the demo: who it is in the story, its signer and its key (for channel proofs). */
export type DemoActor = {
  account: ConsortiumAccount;
  label: string;
  signer: Signer;
  key: SigningKey;
};

export type DemoParams = {
  contracts: MarketContracts & { channels: PaymentChannels };
  manifest: DeploymentManifest;
  /** Reads blocks and the chain id, and sends anvil's `evm_` methods. */
  provider: Pick<JsonRpcProvider, "getBlock" | "getNetwork"> &
    ContractRunner & { send(method: string, params: unknown[]): Promise<unknown> };
  accounts: ConsortiumAccount[];
  /** Signer (any account of the consortium) and private key by account id. */
  signerOf: (id: string) => Signer;
  keyOf: (id: string) => string;
  /** Zone ids of the YAML in order (numeric zone = index + 1) and their export lines in W. */
  zones: { id: string; exportW: bigint }[];
  slotSeconds: bigint;
  maxOrderWh: Wh;
  /** Folder of the channel clients' stores: payments survive a second demo run. */
  channelStoreDir: string;
  /** Prints one line of the narrative. */
  say: (line: string) => void;
};

export type DemoRow = {
  order: bigint;
  seller: string;
  buyer: string;
  energy: string;
  kwh: string;
  price: string;
  outcome: string;
  note: string;
};

const PRICE_SOLAR = 120_000n; // 0.12 credits per kWh
const PRICE_WIND = 100_000n; // 0.10 credits per kWh
const DEFAULT_PER_KWH = 50_000n; // 0.05 credits per kWh not delivered
const BOND = 50_000_000n; // 50 credits
const TARIFF_CROSS_ZONE = 20_000n; // 0.02 credits per kWh carried between two zones
const TARIFF_IN_ZONE = 10_000n; // 0.01 credits per kWh carried inside one zone

/**
 * A short trading session through every step of the flow on a deployed market: bonds, offers (A),
 * requests and the sellers' answers (B), the grid's review denying one order for line capacity
 * (C), channel payments, then metering after the window and one shortfall settled from the bond
 * (D). The chain's clock is moved past the delivery window with `evm_increaseTime`, which only
 * the embedded engine (anvil) has. Returns the rows of the summary table.
 */
export async function runDemoSession(params: DemoParams): Promise<DemoRow[]> {
  const { contracts, provider, say } = params;
  const client = new MarketClient(contracts);
  const actors = pickActors(params);
  const { solar, wind, gridOperator, meter, home, households } = actors;
  const zoneName = (account: ConsortiumAccount) => account.zone;

  const now = BigInt((await provider.getBlock("latest"))!.timestamp);
  const start = nextSlot(now, params.slotSeconds, 120n);
  const end = start + params.slotSeconds;
  const solarZone = params.zones.find((zone) => zone.id === solar.account.zone)!;
  const lineWh = (solarZone.exportW * params.slotSeconds) / 3600n;
  const orderWh = params.maxOrderWh;
  const fitting = Number(lineWh / orderWh);
  const time = (t: bigint) => new Date(Number(t) * 1000).toISOString().slice(11, 16);

  say(
    `Cast: ${solar.label} of ${solar.account.organisation} in zone ${solar.account.zone}, ${wind.label} of ${wind.account.organisation} in zone ${wind.account.zone}, households, the grid operator and the grid's meter.`,
  );
  say(`Delivery slot: ${time(start)}-${time(end)} UTC (chain time).`);
  say("");
  say("Bonds. Sellers lock GridCredit as a bond: a shortfall is paid from it.");
  await Promise.all(
    [solar, wind].map((seller) => client.fundBond(gridOperator.signer, seller.signer, BOND)),
  );
  say(
    `  ${gridOperator.label} mints ${formatCredits(BOND)} credits to ${solar.label} and to ${wind.label} against their deposits; both lock them as bonds.`,
  );

  say("");
  say("Grid tariff. The grid operator charges per kWh carried, by seller zone and buyer zone.");
  // Zone numbers are the YAML order, from 1; sequential: one signer sends every change.
  for (let from = 1; from <= params.zones.length; from++) {
    for (let to = 1; to <= params.zones.length; to++) {
      const perKwh = from === to ? TARIFF_IN_ZONE : TARIFF_CROSS_ZONE;
      if ((await client.tariff(from, to)) !== perKwh)
        await client.setTariff(gridOperator.signer, from, to, perKwh);
    }
  }
  say(
    `  ${gridOperator.label}: ${formatCredits(TARIFF_CROSS_ZONE)} credits/kWh between zones, ${formatCredits(TARIFF_IN_ZONE)} inside a zone; locked from the seller's bond at confirm, paid to the grid at metering.`,
  );

  const tariffNote = `(grid tariff ${formatCredits(TARIFF_CROSS_ZONE)} to another zone, ${formatCredits(TARIFF_IN_ZONE)} inside its own)`;
  say("");
  say("A. Release: producers publish offers for the slot.");
  const solarOfferWh = orderWh * BigInt(fitting + 1);
  const windOfferWh = orderWh;
  const [solarOffer, windOffer] = await Promise.all([
    client.publish({
      seller: solar.signer,
      energyType: "solar",
      pricePerKwh: PRICE_SOLAR,
      defaultPerKwh: DEFAULT_PER_KWH,
      quantityWh: solarOfferWh,
      deliveryStart: start,
      deliveryEnd: end,
    }),
    client.publish({
      seller: wind.signer,
      energyType: "wind",
      pricePerKwh: PRICE_WIND,
      defaultPerKwh: DEFAULT_PER_KWH,
      quantityWh: windOfferWh,
      deliveryStart: start,
      deliveryEnd: end,
    }),
  ]);
  say(
    `  offer ${solarOffer}: ${solar.label} in zone ${zoneName(solar.account)} sells ${kwh(solarOfferWh)} kWh of solar at ${formatCredits(PRICE_SOLAR)} credits/kWh ${tariffNote}`,
  );
  say(
    `  offer ${windOffer}: ${wind.label} in zone ${zoneName(wind.account)} sells ${kwh(windOfferWh)} kWh of wind at ${formatCredits(PRICE_WIND)} credits/kWh ${tariffNote}`,
  );

  say("");
  say("B. Orders: households request energy; the sellers confirm or reject.");
  const solarBuyers = households.slice(0, fitting + 1);
  const windBuyerWh = orderWh / 2n;
  const rejectedWh = orderWh / 4n;
  const [solarRequests, windOrder, rejectedOrder] = await Promise.all([
    Promise.all(
      solarBuyers.map(async (buyer) => ({
        buyer,
        orderId: await client.request(buyer.signer, solarOffer, orderWh),
      })),
    ),
    client.request(home[0]!.signer, windOffer, windBuyerWh),
    client.request(home[1]!.signer, windOffer, rejectedWh),
  ]);
  // Requests sent together are numbered in the order the chain mined them.
  solarRequests.sort((a, b) => (a.orderId < b.orderId ? -1 : 1));
  const solarOrders = solarRequests.map((request) => request.orderId);
  solarBuyers.splice(0, solarBuyers.length, ...solarRequests.map((request) => request.buyer));
  solarBuyers.forEach((buyer, i) =>
    say(
      `  order ${solarOrders[i]}: ${buyer.label} (zone ${buyer.account.zone}) asks ${kwh(orderWh)} kWh of solar`,
    ),
  );
  say(
    `  order ${windOrder}: ${home[0]!.label} (zone ${home[0]!.account.zone}) asks ${kwh(windBuyerWh)} kWh of wind`,
  );
  say(
    `  order ${rejectedOrder}: ${home[1]!.label} (zone ${home[1]!.account.zone}) asks ${kwh(rejectedWh)} kWh of wind`,
  );

  say("");
  say(
    `C. Review: each confirmation is checked by the grid's review against line capacity and limits. Zone ${solarZone.id} exports at most ${kwh(lineWh)} kWh in this slot.`,
  );
  const [outcomes, windOutcome] = await Promise.all([
    Promise.all(solarOrders.map((orderId) => client.confirm(solar.signer, orderId))),
    client.confirm(wind.signer, windOrder),
    client.reject(wind.signer, rejectedOrder),
  ]);
  solarOrders.forEach((orderId, i) => {
    const outcome = outcomes[i]!;
    say(
      outcome.status === "denied"
        ? `  order ${orderId}: ${solar.label} confirms; the review DENIES it (${outcome.denialReason}): ${kwh(orderWh * BigInt(i + 1))} kWh would exceed the line`
        : `  order ${orderId}: ${solar.label} confirms; review approves (parameters v${outcome.reviewVersion}); ${formatCredits((orderWh * DEFAULT_PER_KWH) / 1000n)} credits of the bond locked -> ${outcome.status}`,
    );
  });
  say(`  order ${windOrder}: ${wind.label} confirms; review approves -> ${windOutcome.status}`);
  say(`  order ${rejectedOrder}: ${wind.label} rejects it (it keeps the rest for its own storage)`);

  const established = [
    ...solarOrders
      .map((orderId, i) => ({ orderId, buyer: solarBuyers[i]!, seller: solar }))
      .filter((_, i) => outcomes[i]!.status === "established"),
    { orderId: windOrder, buyer: home[0]!, seller: wind },
  ];

  say("");
  say("Payments: each buyer pays its seller over a payment channel, the proof bound to the order.");
  const { chainId } = await provider.getNetwork();
  const channelsAddress = (await contracts.channels.getAddress()) as Address;
  const orders = marketOrders((await contracts.market.getAddress()) as Address, provider);
  const clients = new Map<string, ChannelClient>();
  const clientFor = async (actor: DemoActor) => {
    let found = clients.get(actor.account.id);
    if (found === undefined) {
      found = await ChannelClient.start({
        key: actor.key,
        domain: { chainId, verifyingContract: channelsAddress },
        storePath: join(params.channelStoreDir, `${actor.account.id}.jsonl`),
        chain: {
          channels: contracts.channels.connect(actor.signer),
          token: contracts.credit.connect(actor.signer),
        },
      });
      clients.set(actor.account.id, found);
    }
    return found;
  };
  const paid = new Set<bigint>();
  try {
    for (const { seller } of established) await clientFor(seller);
    const proofs = await Promise.all(
      established.map(async ({ orderId, buyer, seller }) => {
        const payer = await clientFor(buyer);
        const price = orderPrice(await orders.getOrder(orderId));
        let channelId = payer.channelWith(seller.account.address as Address);
        const opened = channelId === undefined;
        channelId ??= await payer.openChannel(seller.account.address as Address);
        await payer.deposit(channelId, payer.channel(channelId).selfDeposit + price);
        const proof = await payer.payForOrder(orders, orderId);
        return { orderId, buyer, seller, channelId, opened, price, proof };
      }),
    );
    for (const { orderId, buyer, seller, channelId, opened, price, proof } of proofs) {
      const receiver = await clientFor(seller);
      await receiver.sync(channelId);
      await receiver.receive(proof);
      if (await receiver.isOrderPaid(orders, orderId)) paid.add(orderId);
      say(
        `  order ${orderId}: ${buyer.label} ${opened ? "opens" : "reuses"} channel ${channelId} to ${seller.label}, pays ${formatCredits(price)} credits off chain (proof #${proof.nonce}); ${seller.label} verifies it: ${paid.has(orderId) ? "paid" : "NOT paid"}`,
      );
    }
  } finally {
    for (const channelClient of clients.values()) await channelClient.stop();
  }

  say("");
  const latest = BigInt((await provider.getBlock("latest"))!.timestamp);
  const jump = end - latest + 1n;
  say(
    `D. Delivery. The embedded chain's clock jumps ${Math.ceil(Number(jump) / 60)} minutes ahead (anvil evm_increaseTime) to the end of the window; Besu keeps real time.`,
  );
  await provider.send("evm_increaseTime", [Number(jump)]);
  await provider.send("evm_mine", []);
  const shortOrder = established[established.length - 2]!;
  const deliveredOf = (orderId: bigint, quantity: Wh) =>
    orderId === shortOrder.orderId ? (quantity * 7n) / 10n : quantity;
  const metered = await Promise.all(
    established.map(async ({ orderId, buyer }) => {
      const order = await contracts.market.getOrder(orderId);
      const delivered = deliveredOf(orderId, order.quantityWh);
      return { orderId, buyer, end: order.deliveryEnd, delivered, quantity: order.quantityWh };
    }),
  );
  // Each household's meter counts what it received: its reading at a window's end is everything
  // delivered to it in windows that ended by then (the same value for orders ending together).
  const readingAt = (meterOf: string, end: bigint) =>
    metered
      .filter((entry) => entry.buyer.account.id === meterOf && entry.end <= end)
      .reduce((sum, entry) => sum + entry.delivered, 0n);
  // One transaction records every reading: the meter's batch.
  const recorded = await client.recordDeliveries(
    meter.signer,
    metered.map(({ orderId, buyer, end, delivered }) => ({
      orderId,
      meterName: `meter:${buyer.account.id}`,
      deliveredWh: delivered,
      readingWh: readingAt(buyer.account.id, end),
    })),
  );
  const readings = await Promise.all(
    metered.map(async ({ orderId, delivered, quantity }, index) => {
      const refused = recorded[index]!.refused;
      if (refused !== undefined) throw new Error(`order ${orderId}: reading refused: ${refused}`);
      return { orderId, delivered, quantity, outcome: await client.outcome(orderId) };
    }),
  );
  for (const { orderId, delivered, quantity, outcome } of readings) {
    say(
      `  ${meter.label} records order ${orderId}: ${kwh(delivered)} of ${kwh(quantity)} kWh delivered -> ${outcome.status}`,
    );
  }
  const payout = await client.settleDefault(shortOrder.buyer.signer, shortOrder.orderId);
  say(
    `  order ${shortOrder.orderId} fell short: ${formatCredits(payout)} credits go from ${shortOrder.seller.label}'s bond to ${shortOrder.buyer.label}; the rest of the locked bond is freed.`,
  );
  say(
    `  grid income held by the market for the grid operator: ${formatCredits(await client.gridIncome())} credits (tariffs on the energy carried, all runs so far).`,
  );

  const rows: DemoRow[] = [];
  const all = [
    ...solarOrders.map((orderId, i) => ({
      orderId,
      buyer: solarBuyers[i]!,
      seller: solar,
      energy: "solar",
    })),
    { orderId: windOrder, buyer: home[0]!, seller: wind, energy: "wind" },
    { orderId: rejectedOrder, buyer: home[1]!, seller: wind, energy: "wind" },
  ];
  for (const { orderId, buyer, seller, energy } of all) {
    const order = await contracts.market.getOrder(orderId);
    const outcome = await client.outcome(orderId);
    const reading = readings.find((r) => r.orderId === orderId);
    rows.push({
      order: orderId,
      seller: seller.label,
      buyer: buyer.label,
      energy,
      kwh: kwh(order.quantityWh),
      price: formatCredits(orderPrice(order)),
      outcome: outcome.status,
      note:
        outcome.status === "denied"
          ? outcome.denialReason
          : reading === undefined
            ? ""
            : `${paid.has(orderId) ? "paid by channel" : "unpaid"}, ${kwh(reading.delivered)} kWh delivered${orderId === shortOrder.orderId ? `, ${formatCredits(payout)} from bond` : ""}`,
    });
  }
  return rows;
}

/** The table the demo ends with. */
export function renderTable(rows: DemoRow[]): string {
  const header: DemoRow = {
    order: 0n,
    seller: "seller",
    buyer: "buyer",
    energy: "energy",
    kwh: "kWh",
    price: "credits",
    outcome: "outcome",
    note: "note",
  };
  const cells = (row: DemoRow, isHeader: boolean) => [
    isHeader ? "order" : String(row.order),
    row.seller,
    row.buyer,
    row.energy,
    row.kwh,
    row.price,
    row.outcome,
    row.note,
  ];
  const table = [cells(header, true), ...rows.map((row) => cells(row, false))];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((r) => r[col]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, col) =>
        col === 4 || col === 5 ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!),
      )
      .join("  ")
      .trimEnd();
  return [
    line(table[0]!),
    line(widths.map((w) => "-".repeat(w))),
    ...table.slice(1).map(line),
  ].join("\n");
}

function kwh(wh: bigint): string {
  const whole = wh / 1000n;
  const fraction = (wh % 1000n).toString().padStart(3, "0").replace(/0+$/, "");
  return fraction === "" ? whole.toString() : `${whole}.${fraction}`;
}

/**
 * The cast: the first producer sells solar, the first producer of another zone sells wind, the
 * households of other zones than the solar producer's buy its energy (enough of them to exceed
 * the line by one order), two households in the solar zone buy wind.
 */
function pickActors(params: DemoParams) {
  const { accounts } = params;
  const actor = (account: ConsortiumAccount, label: string): DemoActor => ({
    account,
    label,
    // One nonce sequence per account: the demo sends several transactions of an account at once.
    signer: new NonceManager(params.signerOf(account.id)),
    key: new SigningKey(params.keyOf(account.id)),
  });
  const one = (role: ConsortiumAccount["role"]) => {
    const found = accounts.find((account) => account.role === role);
    if (found === undefined) throw new OperatorError(`the demo needs a ${role} account`);
    return found;
  };
  const producers = accounts.filter((account) => account.role === "producer");
  const solarAccount = producers[0];
  const windAccount = producers.find((p) => p.zone !== solarAccount?.zone) ?? producers[1];
  if (solarAccount === undefined || windAccount === undefined) {
    throw new OperatorError("the demo needs two producer accounts", {
      hint: "set accounts.producers to 2 or more in the consortium file and run 'gridchain generate'",
    });
  }
  const consumers = accounts.filter((account) => account.role === "consumer");
  const solarZone = params.zones.find((zone) => zone.id === solarAccount.zone);
  if (solarZone === undefined)
    throw new OperatorError(`zone ${solarAccount.zone} has no line capacity`);
  const lineWh = (solarZone.exportW * params.slotSeconds) / 3600n;
  const needed = Number(lineWh / params.maxOrderWh) + 1;
  const away = consumers.filter((c) => c.zone !== solarAccount.zone);
  const home = consumers.filter((c) => c.zone === solarAccount.zone);
  if (away.length < needed || home.length < 2) {
    throw new OperatorError(
      `the demo needs ${needed} households outside zone ${solarAccount.zone} and 2 inside it`,
      {
        details: `${away.length} outside, ${home.length} inside`,
        hint: "raise accounts.consumers in the consortium file and run 'gridchain generate'",
      },
    );
  }
  const household = (account: ConsortiumAccount) =>
    actor(account, `household ${account.id.replace(/^consumer-/, "")}`);
  return {
    solar: actor(solarAccount, `${solarAccount.id} (solar)`),
    wind: actor(windAccount, `${windAccount.id} (wind)`),
    gridOperator: actor(one("grid-operator"), "the grid operator"),
    meter: actor(one("meter"), "the grid's meter"),
    households: away.slice(0, needed).map(household),
    home: home.slice(0, 2).map(household),
  };
}
