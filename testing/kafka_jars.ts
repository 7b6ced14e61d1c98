/**
 * Fetching Apache Kafka's broker jars from Maven Central, once, into a cache folder.
 *
 * @module
 */

import { LocalKafkaError, type LocalKafkaErrorCode } from "./errors.ts";

/** The Kafka release the local broker runs: the 3.9 line keeps every protocol KafkaJS uses. */
export const DEFAULT_KAFKA_VERSION = "3.9.1";

/** Options of {@linkcode ensureKafkaJars}. */
export interface KafkaJarsOptions {
  /** Kafka version to fetch. Default: {@linkcode DEFAULT_KAFKA_VERSION}. */
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
  const dependency = (group: string, artifact: string, version: string) =>
    `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId>` +
    `<version>${version}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.troupe</groupId>
  <artifactId>local-kafka</artifactId>
  <version>1</version>
  <dependencies>
    ${dependency("org.apache.kafka", "kafka_2.13", kafkaVersion)}
    ${dependency("org.apache.kafka", "kafka-tools", kafkaVersion)}
    ${dependency("org.slf4j", "slf4j-reload4j", "1.7.36")}
    ${dependency("ch.qos.reload4j", "reload4j", "1.2.25")}
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
  const version = options.kafkaVersion ?? DEFAULT_KAFKA_VERSION;
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
