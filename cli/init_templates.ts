/**
 * The files `troupe init` writes: a processor project that depends on troupe.
 *
 * @module
 */

/** What the files of a new project depend on. */
export interface ProjectSettings {
  /** The project's name: the default consumer group id, and the README's title. */
  readonly name: string;
  /** Where `@troupe/troupe` resolves to (a file URL of a checkout's `mod.ts` for now). */
  readonly troupe: string;
  /** Where `@troupe/troupe/testing` resolves to. */
  readonly troupeTesting: string;
  /** The `@logtape/logtape` specifier troupe itself depends on (`npm:@logtape/logtape@x.y.z`). */
  readonly logtape: string;
  /** The version of troupe, for the comment on how the dependency will read once published. */
  readonly version: string;
}

/**
 * Every file of a new project, by name, in the order they are written.
 *
 * @example
 * ```ts ignore
 * const files = projectFiles({ name: "billing", troupe, troupeTesting, logtape, version });
 * console.log(Object.keys(files)); // ["deno.json", "handler.ts", "handler_test.ts", "main.ts", "README.md"]
 * ```
 */
export function projectFiles(settings: ProjectSettings): Record<string, string> {
  return {
    "deno.json": denoJson(settings),
    "handler.ts": HANDLER,
    "handler_test.ts": HANDLER_TEST,
    "main.ts": main(settings),
    "README.md": readme(settings),
  };
}

function denoJson(settings: ProjectSettings): string {
  return `{
  "imports": {
    // troupe, from the checkout this project was made with. Once troupe is
    // published, one line replaces these two:
    //   "@troupe/troupe": "jsr:@troupe/troupe@^${settings.version}",
    "@troupe/troupe": ${JSON.stringify(settings.troupe)},
    "@troupe/troupe/testing": ${JSON.stringify(settings.troupeTesting)},
    "@logtape/logtape": ${JSON.stringify(settings.logtape)}
  },
  "tasks": {
    // --allow-env: KafkaJS reads NODE_ENV and KAFKAJS_*, main.ts KAFKA_BROKERS
    // and TROUPE_*.
    "start": "deno run --allow-net --allow-env main.ts",
    "dev": "deno run --watch --allow-net --allow-env main.ts",
    // The tests run on troupe's in-memory Kafka: no broker, no network.
    "test": "deno test --allow-env"
  }
}
`;
}

const HANDLER = `/**
 * The handler: what this processor does with each message.
 *
 * @module
 */

import { type Handler, NonRetriableError } from "@troupe/troupe";

/** An order, as JSON in the topic this processor reads. */
export interface Order {
  id: number;
  customer: string;
  total: number;
}

/** The work done for one order: replace it with yours (a database, an API). */
export type Bill = (order: Order, signal: AbortSignal) => void | Promise<void>;

/**
 * A handler that bills each order, one at a time per partition, in offset
 * order. When \`bill\` throws, troupe retries the order, then restarts the
 * partition's actor on it: nothing is skipped, and an offset is committed only
 * once its order is billed.
 */
export function billOrders(bill: Bill): Handler<string, Order> {
  return async (message, context) => {
    const order = message.value;
    if (typeof order?.id !== "number" || typeof order.total !== "number") {
      // Retrying cannot mend a malformed message: say so. (A \`deadLetter\`
      // topic in the processor's options would park it instead of crashing.)
      throw new NonRetriableError(\`offset \${message.offset} is not an order\`);
    }
    await bill(order, context.signal);
  };
}
`;

const HANDLER_TEST = `import assert from "node:assert/strict";
import { createProcessor, json } from "@troupe/troupe";
import { type MemoryKafka, startMemoryKafka } from "@troupe/troupe/testing";
import { type Bill, billOrders, type Order } from "./handler.ts";

/** Waits until \`condition()\` holds, failing after \`timeoutMs\`. */
async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(\`timed out waiting for \${what}\`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A processor over the in-memory cluster, billing with \`bill\`. */
function processor(kafka: MemoryKafka, bill: Bill) {
  return createProcessor({
    brokers: kafka.brokers,
    groupId: "billing",
    topics: "orders",
    fromBeginning: true,
    valueCodec: json<Order>(),
    restart: { backoff: { initialMs: 10, maxMs: 10 } },
    handler: billOrders(bill),
  });
}

function order(id: number): Order {
  return { id, customer: \`customer-\${id % 3}\`, total: 10 * id };
}

Deno.test("an order is billed, and its offset committed", async () => {
  await using kafka = startMemoryKafka();
  kafka.produce("orders", { key: "alice", value: JSON.stringify(order(1)) });
  const billed: Order[] = [];
  const billing = processor(kafka, (o) => void billed.push(o));
  await billing.start();
  await until(() => billed.length === 1, "the order to be billed");
  await billing.stop();

  assert.deepEqual(billed, [order(1)]);
  const committed = kafka.committed("billing", "orders");
  assert.deepEqual(committed, kafka.endOffsets("orders"));
});

Deno.test("a crashed actor restarts on the same order; none is skipped", async () => {
  await using kafka = startMemoryKafka();
  const orders = [1, 2, 3].map((id) => ({ value: JSON.stringify(order(id)) }));
  kafka.produce("orders", orders);
  let failures = 1;
  const billed: number[] = [];
  const billing = processor(kafka, (o) => {
    if (o.id === 2 && failures-- > 0) throw new Error("the gateway timed out");
    billed.push(o.id);
  });
  const restartedAt: number[] = [];
  billing.on("actor-restarted", (event) => restartedAt.push(event.offset));
  await billing.start();
  await until(() => billed.length === 3, "every order to be billed");
  await billing.stop();

  assert.deepEqual(billed, [1, 2, 3]);
  assert.deepEqual(restartedAt, [1], "restarted once, at order 2 (offset 1)");
  assert.deepEqual(kafka.committed("billing", "orders"), [3]);
});
`;

function main(settings: ProjectSettings): string {
  return `/**
 * Runs the processor against Kafka until SIGINT or SIGTERM, then stops
 * gracefully: it finishes the orders in hand, commits, and leaves the group.
 *
 *   KAFKA_BROKERS  bootstrap brokers, "host:port,..."  (default 127.0.0.1:9092)
 *   TROUPE_TOPICS  topics to read, comma-separated       (default orders)
 *   TROUPE_GROUP   consumer group id         (default the name of this project)
 *
 * @module
 */

import { configure, getConsoleSink } from "@logtape/logtape";
import { createProcessor, json } from "@troupe/troupe";
import { billOrders, type Order } from "./handler.ts";

const DEFAULT_GROUP = ${JSON.stringify(settings.name)};

// troupe logs into LogTape's "troupe" category, and leaves to the program
// where the records go: here, the console.
await configure({
  sinks: { console: getConsoleSink() },
  loggers: [
    { category: "troupe", lowestLevel: "info", sinks: ["console"] },
    {
      category: ["logtape", "meta"],
      lowestLevel: "warning",
      sinks: ["console"],
    },
  ],
});

const brokers = Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092";
const topics = (Deno.env.get("TROUPE_TOPICS") ?? "orders").split(",");
const groupId = Deno.env.get("TROUPE_GROUP") ?? DEFAULT_GROUP;

const processor = createProcessor({
  brokers,
  groupId,
  topics: topics.map((topic) => topic.trim()),
  fromBeginning: true,
  valueCodec: json<Order>(),
  handler: billOrders(({ id, customer, total }) => {
    console.log(\`billed order \${id} of \${customer}: \${total}\`);
  }),
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void processor.stop());
}
try {
  await processor.start();
  console.log(\`processing \${topics} as group \${groupId} on \${brokers}\`);
  await processor.done;
} catch (error) {
  console.error(\`stopped: \${error instanceof Error ? error.message : error}\`);
  Deno.exit(1);
}
`;
}

function readme(settings: ProjectSettings): string {
  return `# ${settings.name}

A Kafka stream processor built on troupe: one actor per assigned partition,
restarted with backoff when its handler fails; only processed offsets are
committed.

- \`handler.ts\`: the handler, what is done with each order (JSON).
- \`handler_test.ts\`: its tests, on troupe's in-memory Kafka: no broker, no
  network.
- \`main.ts\`: runs the processor against Kafka until Ctrl-C (or SIGTERM).
- \`deno.json\`: troupe as a dependency, and the tasks.

\`\`\`sh
deno task test    # the handler's tests
deno task start   # the processor, against Kafka
deno task dev     # the same, restarted whenever a file changes
\`\`\`

\`main.ts\` reads three environment variables:

\`\`\`sh
KAFKA_BROKERS=127.0.0.1:9092   # bootstrap brokers, comma-separated
TROUPE_TOPICS=orders           # topics to read, comma-separated
${`TROUPE_GROUP=${settings.name}`.padEnd(30)} # consumer group id
\`\`\`

To try it, create the topic and produce an order with troupe's command line (in
troupe's checkout):

\`\`\`sh
deno task troupe topics create orders --partitions 3
echo '{"id":1,"customer":"alice","total":42}' |
  deno task troupe produce --topic orders
\`\`\`

troupe is imported as \`@troupe/troupe\` and \`@troupe/troupe/testing\`, which
\`deno.json\` maps to the troupe checkout this project was made with; once troupe
is published, one \`jsr:\` line (given in \`deno.json\`) replaces the mapping.
`;
}
