package dev.troupe.bench;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Kafka's own Java consumer doing nothing with each record: the limit of the no-op row. A plain
 * {@code poll} loop with the fetch settings every consumer of the benchmark gets (1 MiB per
 * partition, 10 MiB per request, {@code fetch.min.bytes} 1, 500 ms wait). Reads the topic from
 * the beginning with a fresh group until {@code --messages} records were read, then prints:
 *
 * <pre>{"type":"result","handled":N,"elapsedMs":T,"joinMs":J}</pre>
 *
 * <p>Timed in the steady state, as the other consumers are: from the first poll that returned
 * records (the group joined, a first batch in) to the N-th record, counting the records after
 * that first batch ({@code joinMs} runs from the start to that batch). Kafka's ConsumerPerformance, timed from the assignment, counted the JIT's
 * warm-up and the first fetch, and moved by 60% between runs.
 */
public final class NoopConsumer {
  public static void main(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) options.put(args[i], args[i + 1]);
    String brokers = required(options, "--brokers");
    String topic = required(options, "--topic");
    String group = required(options, "--group");
    long messages = Long.parseLong(required(options, "--messages"));
    long timeoutMs = Long.parseLong(options.getOrDefault("--timeout-ms", "300000"));

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "1");
    props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, "10485760");
    props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "1048576");
    props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "500");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(
        ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());

    long startedAt = System.nanoTime();
    long firstAt = 0;
    long firstCount = 0;
    long finishedAt = 0;
    long handled = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      consumer.subscribe(List.of(topic));
      long deadline = startedAt + timeoutMs * 1_000_000L;
      while (handled < messages && System.nanoTime() < deadline) {
        ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
        int count = records.count();
        if (count == 0) continue;
        if (firstAt == 0) {
          firstAt = System.nanoTime();
          firstCount = count;
        }
        handled += count;
        if (handled >= messages) finishedAt = System.nanoTime();
      }
      boolean finished = finishedAt != 0;
      long end = finished ? finishedAt : System.nanoTime();
      long from = firstAt == 0 ? startedAt : firstAt;
      System.out.printf(
          "{\"type\":\"result\",\"handled\":%d,\"elapsedMs\":%.3f,\"joinMs\":%.3f,"
              + "\"timedOut\":%b}%n",
          Math.min(handled, messages) - firstCount,
          (end - from) / 1e6,
          (from - startedAt) / 1e6,
          !finished);
      System.out.flush();
      System.exit(finished ? 0 : 3);
    }
  }

  private static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      System.err.println("NoopConsumer: missing " + name);
      System.exit(2);
    }
    return value;
  }
}
