/**
 * Fetching Apache Kafka's broker jars from Maven Central, once, into a cache folder.
 *
 * @module
 */

import { brokerLogging } from "./broker_logging.ts";
import { LocalKafkaError, type LocalKafkaErrorCode } from "./errors.ts";

/**
 * The Kafka release local brokers run unless told otherwise: the newest 4.x release Maven
 * Central serves here. KafkaJS's highest request versions are all inside what Kafka 4 kept
 * (KIP-896); the suite also runs against the 3.9 line.
 */
export const DEFAULT_KAFKA_VERSION = "4.4.0";

/** The environment variable that picks the Kafka version when no option does. */
export const KAFKA_VERSION_ENV = "TROUPE_KAFKA_VERSION";

/**
 * The Kafka version to run: the option, else `$TROUPE_KAFKA_VERSION`, else
 * {@linkcode DEFAULT_KAFKA_VERSION}.
 *
 * @example
 * ```ts
 * import { kafkaVersionOf } from "./kafka_jars.ts";
 * console.log(kafkaVersionOf({ kafkaVersion: "3.9.1" })); // "3.9.1"
 * ```
 */
export function kafkaVersionOf(options: KafkaJarsOptions = {}): string {
  const version = options.kafkaVersion ?? Deno.env.get(KAFKA_VERSION_ENV) ?? DEFAULT_KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new LocalKafkaError(
      "bad-option",
      `${JSON.stringify(version)} is not a Kafka version (expected e.g. "4.4.0" or "3.9.1"; ` +
        `from ${
          options.kafkaVersion !== undefined ? "the kafkaVersion option" : KAFKA_VERSION_ENV
        })`,
    );
  }
  return version;
}

/** Options of {@linkcode ensureKafkaJars}. */
export interface KafkaJarsOptions {
  /**
   * Kafka version to fetch and run, e.g. `"3.9.1"`. Default: `$TROUPE_KAFKA_VERSION`, else
   * {@linkcode DEFAULT_KAFKA_VERSION}.
   */
  kafkaVersion?: string;
  /**
   * Folder holding one `kafka-<version>/lib` folder per version. Default: `$TROUPE_CACHE_DIR`,
   * else `$XDG_CACHE_HOME/troupe`, else `~/.cache/troupe`.
   */
  cacheDir?: string;
}

/**
 * The default cache folder: `$TROUPE_CACHE_DIR`, else `$XDG_CACHE_HOME/troupe`, else
 * `~/.cache/troupe`. Outside any checkout, so a fresh clone reuses the jars.
 *
 * @example
 * ```ts
 * import { defaultCacheDir } from "./kafka_jars.ts";
 * console.log(defaultCacheDir());
 * ```
 */
export function defaultCacheDir(): string {
  const explicit = Deno.env.get("TROUPE_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/troupe`;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (home) return `${home}/.cache/troupe`;
  return `${Deno.cwd()}/.cache`;
}

function pom(kafkaVersion: string): string {
  const dependency = (coordinates: string) => {
    const [group, artifact, version] = coordinates.split(":");
    return `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId>` +
      `<version>${version}</version></dependency>`;
  };
  const dependencies = [
    `org.apache.kafka:kafka_2.13:${kafkaVersion}`,
    `org.apache.kafka:kafka-tools:${kafkaVersion}`,
    ...brokerLogging(kafkaVersion).dependencies,
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.troupe</groupId>
  <artifactId>local-kafka</artifactId>
  <version>1</version>
  <dependencies>
    ${dependencies.map(dependency).join("\n    ")}
  </dependencies>
</project>
`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Runs a tool to completion; a missing tool or a failure becomes a {@linkcode LocalKafkaError}
 * with the given codes and messages (and the tail of the tool's output on failure).
 *
 * @example
 * ```ts ignore
 * await runTool("java", ["-version"], { code: "java-missing", message: "install Java" }, {
 *   code: "format-failed",
 *   message: "java failed",
 * });
 * ```
 */
export async function runTool(
  program: string,
  args: string[],
  missing: { code: LocalKafkaErrorCode; message: string },
  failed: { code: LocalKafkaErrorCode; message: string },
): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new LocalKafkaError(missing.code, missing.message);
    }
    throw error;
  }
  if (!output.success) {
    const decoder = new TextDecoder();
    throw new LocalKafkaError(
      failed.code,
      `${failed.message} (exit code ${output.code})`,
      tail(decoder.decode(output.stdout) + decoder.decode(output.stderr)),
    );
  }
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Makes sure the Kafka broker jars are in the cache, fetching them with Maven on first use,
 * and returns the folder holding them (a Java classpath of `<folder>/*`).
 *
 * The download goes to a temporary folder that is renamed into place when complete, so an
 * interrupted download is never mistaken for a cache hit and two processes may race safely.
 *
 * @example
 * ```ts ignore
 * import { ensureKafkaJars } from "./kafka_jars.ts";
 * const lib = await ensureKafkaJars();
 * console.log(`java -cp '${lib}/*' kafka.Kafka server.properties`);
 * ```
 *
 * @throws {LocalKafkaError} `maven-missing` or `download-failed`.
 */
export async function ensureKafkaJars(options: KafkaJarsOptions = {}): Promise<string> {
  const version = kafkaVersionOf(options);
  const home = `${options.cacheDir ?? defaultCacheDir()}/kafka-${version}`;
  // The folder is renamed into place only once complete, so its presence is the cache hit.
  const lib = `${home}/lib`;
  if (await exists(lib)) return lib;

  await Deno.mkdir(home, { recursive: true });
  const work = await Deno.makeTempDir({ dir: home, prefix: "download-" });
  try {
    await Deno.writeTextFile(`${work}/pom.xml`, pom(version));
    await runTool(
      "mvn",
      [
        "-q",
        "-B",
        "-f",
        `${work}/pom.xml`,
        "dependency:copy-dependencies",
        `-DoutputDirectory=${work}/lib`,
        "-DincludeScope=runtime",
      ],
      {
        code: "maven-missing",
        message:
          "Maven (mvn) was not found on PATH. The local Kafka broker fetches its jars from " +
          "Maven Central once; install Maven 3.8+ (e.g. `apt-get install maven`) or set " +
          "KAFKA_BROKERS to use a running broker.",
      },
      {
        code: "download-failed",
        message: `Maven could not fetch Kafka ${version} from Maven Central. Check the network ` +
          "and Maven's settings, or set KAFKA_BROKERS to use a running broker",
      },
    );
    try {
      await Deno.rename(`${work}/lib`, lib);
    } catch (error) {
      // Another process finished first: its copy is as good as ours.
      if (!(await exists(lib))) throw error;
    }
    return lib;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
