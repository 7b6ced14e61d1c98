/**
 * How every command reaches Kafka: brokers and client id from flags or the environment,
 * TLS and SASL credentials from the environment only (a command line shows up in `ps`).
 *
 * @module
 */

import { type ConnectionOptions, parseBrokers, type SaslOptions } from "../mod.ts";
import { UsageError } from "./errors.ts";
import type { EnvReader, FlagSpec, ParsedFlags } from "./flags.ts";

/** The broker a command uses when neither `--brokers` nor `KAFKA_BROKERS` is given. */
export const DEFAULT_BROKERS = "127.0.0.1:9092";

/** Flags shared by the commands that talk to Kafka. */
export const CONNECTION_FLAGS: readonly FlagSpec[] = [
  {
    name: "brokers",
    kind: "string",
    placeholder: "LIST",
    env: "KAFKA_BROKERS",
    default: DEFAULT_BROKERS,
    description: 'Kafka bootstrap brokers, comma-separated "host:port".',
  },
  {
    name: "client-id",
    kind: "string",
    placeholder: "ID",
    env: "TROUPE_CLIENT_ID",
    default: "troupe",
    description: "Client id sent to the brokers.",
  },
];

/** Environment variables that configure TLS and SASL (never flags). */
export const CREDENTIAL_VARIABLES: readonly { name: string; description: string }[] = [
  { name: "TROUPE_TLS", description: "true to connect with TLS (system trust store)." },
  { name: "TROUPE_TLS_CA_FILE", description: "PEM file of CAs to trust (implies TLS)." },
  {
    name: "TROUPE_SASL_MECHANISM",
    description: "plain, scram-sha-256 or scram-sha-512 (needs the two below).",
  },
  { name: "TROUPE_SASL_USERNAME", description: "SASL user name." },
  { name: "TROUPE_SASL_PASSWORD", description: "SASL password; never logged." },
];

/** Connection options, and the secrets among them that logs must never show. */
export interface ResolvedConnection {
  /** For `createProcessor`, `createProducer` and `createAdmin`. */
  readonly options: ConnectionOptions & { brokers: string[]; clientId: string };
  /** Values to mask wherever they would be printed. */
  readonly secrets: readonly string[];
}

const MECHANISMS: readonly SaslOptions["mechanism"][] = ["plain", "scram-sha-256", "scram-sha-512"];

/**
 * Resolves brokers, client id, TLS and SASL for a command.
 *
 * @example
 * ```ts ignore
 * const { options, secrets } = await resolveConnection(flags, readEnv);
 * const admin = createAdmin(options);
 * ```
 *
 * @throws {UsageError} for a malformed broker list or incomplete credentials.
 */
export async function resolveConnection(
  flags: ParsedFlags,
  env: EnvReader,
): Promise<ResolvedConnection> {
  let brokers: string[];
  try {
    brokers = parseBrokers(flags.string("brokers"), flags.label("brokers"));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const options: ResolvedConnection["options"] = {
    brokers,
    clientId: flags.required("client-id"),
  };
  const secrets: string[] = [];

  const caFile = env("TROUPE_TLS_CA_FILE");
  const tls = env("TROUPE_TLS")?.trim().toLowerCase();
  if (tls !== undefined && !["", "0", "1", "true", "false", "yes", "no"].includes(tls)) {
    throw new UsageError(`TROUPE_TLS must be true or false; got "${tls}"`);
  }
  if (caFile) {
    try {
      options.ssl = { ca: await Deno.readTextFile(caFile) };
    } catch (error) {
      throw new UsageError(
        `cannot read TROUPE_TLS_CA_FILE ${caFile}: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  } else if (tls === "1" || tls === "true" || tls === "yes") {
    options.ssl = true;
  }

  const mechanism = env("TROUPE_SASL_MECHANISM")?.trim().toLowerCase();
  if (mechanism) {
    if (!MECHANISMS.includes(mechanism as SaslOptions["mechanism"])) {
      throw new UsageError(
        `TROUPE_SASL_MECHANISM must be one of ${MECHANISMS.join(", ")}; got "${mechanism}"`,
      );
    }
    const username = env("TROUPE_SASL_USERNAME");
    const password = env("TROUPE_SASL_PASSWORD");
    if (!username || !password) {
      throw new UsageError(
        "TROUPE_SASL_MECHANISM needs TROUPE_SASL_USERNAME and TROUPE_SASL_PASSWORD",
      );
    }
    options.sasl = { mechanism: mechanism as SaslOptions["mechanism"], username, password };
    secrets.push(password);
  }
  return { options, secrets };
}
