/**
 * The types of `createAdmin`'s answers and requests, and the {@linkcode Admin} interface.
 *
 * @module
 */

/** A topic and how many partitions it has. */
export interface TopicInfo {
  /** Topic name. */
  readonly topic: string;
  /** Number of partitions. */
  readonly partitions: number;
}

/** A partition's leader and replicas. */
export interface PartitionInfo {
  /** Partition number. */
  readonly partition: number;
  /** Broker id of the leader (-1 when none). */
  readonly leader: number;
  /** Broker ids of the replicas. */
  readonly replicas: readonly number[];
  /** Broker ids of the in-sync replicas. */
  readonly isr: readonly number[];
}

/** A partition's first and next offsets. */
export interface PartitionOffsets {
  /** Partition number. */
  readonly partition: number;
  /** First offset still stored (the beginning). */
  readonly beginning: number;
  /** Offset the next record will get (the end, or high watermark). */
  readonly end: number;
}

/** A consumer group's committed offset for a partition. */
export interface CommittedOffset {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
  /** The committed offset (the next to read), or `null` when the group committed none. */
  readonly offset: number | null;
  /** The metadata stored with the commit, or `null`. */
  readonly metadata: string | null;
}

/** How far a consumer group is behind on a partition. */
export interface PartitionLag {
  /** Topic name. */
  readonly topic: string;
  /** Partition number. */
  readonly partition: number;
  /** The committed offset, or `null` when none. */
  readonly committed: number | null;
  /** The end offset. */
  readonly end: number;
  /** `end - committed` (from the beginning when nothing is committed). */
  readonly lag: number;
}

/** A member of a consumer group and the partitions it holds. */
export interface GroupMember {
  /** Member id. */
  readonly memberId: string;
  /** Client id. */
  readonly clientId: string;
  /** Client host. */
  readonly host: string;
  /** Assigned partitions, by topic. */
  readonly assignment: Readonly<Record<string, readonly number[]>>;
}

/** What to create. */
export interface NewTopic {
  /** Topic name. */
  topic: string;
  /** Number of partitions. Default: the broker's `num.partitions`. */
  partitions?: number;
  /** Replication factor. Default: the broker's `default.replication.factor`. */
  replicationFactor?: number;
  /** Topic configuration, e.g. `{"retention.ms": "60000"}`. */
  config?: Record<string, string>;
}

/**
 * Kafka administration: what kafka-python's consumer and admin client let a script ask.
 * Create it with {@linkcode createAdmin}; it connects on first use and `close()` ends it.
 */
export interface Admin extends AsyncDisposable {
  /** Every topic (internal ones excluded) with its partition count, sorted by name. */
  listTopics(): Promise<TopicInfo[]>;
  /** The partitions of a topic. */
  partitions(topic: string): Promise<PartitionInfo[]>;
  /** Beginning and end offsets of each partition of a topic. */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /**
   * For each partition of a topic, the first offset whose timestamp is at or after
   * `timestamp` (ms since the epoch); the end offset when there is none.
   */
  offsetsForTimestamp(
    topic: string,
    timestamp: number,
  ): Promise<{ partition: number; offset: number }[]>;
  /** A group's committed offsets, for the given topics or every topic it committed to. */
  committedOffsets(groupId: string, topics?: readonly string[]): Promise<CommittedOffset[]>;
  /** A group's lag per partition, for the given topics or every topic it committed to. */
  lag(groupId: string, topics?: readonly string[]): Promise<PartitionLag[]>;
  /** Consumer groups known to the cluster. */
  listGroups(): Promise<string[]>;
  /** A group's state and members with their assignments. */
  describeGroup(groupId: string): Promise<{ state: string; members: GroupMember[] }>;
  /**
   * Every consumer group known to the cluster (or only `groupIds`), sorted by id, with its
   * state and its members' assignments. A group the cluster does not know is `Dead`.
   */
  describeGroups(groupIds?: readonly string[]): Promise<
    {
      /** The group's id. */
      groupId: string;
      /** `consumer` for consumer groups; other clients (e.g. Kafka Connect) use others. */
      protocolType: string;
      /** Kafka's group state: `Stable`, `Empty`, `PreparingRebalance`, `Dead`... */
      state: string;
      /** Its members, with the partitions each holds. */
      members: GroupMember[];
    }[]
  >;
  /**
   * A topic's partitions with their leaders, replicas, in-sync replicas and offsets.
   *
   * @throws {TopicError} `unknown-topic` when the topic does not exist.
   */
  describeTopic(topic: string): Promise<(PartitionInfo & PartitionOffsets)[]>;
  /**
   * Creates topics and waits for their leaders; resolves false when some already existed
   * (those are left as they are).
   *
   * @throws {TopicError} `invalid-request` when the broker refuses a name, partition count,
   *   replication factor or configuration entry; the message names the culprit.
   */
  createTopics(topics: readonly NewTopic[]): Promise<boolean>;
  /**
   * Deletes topics, with their records.
   *
   * @throws {TopicError} `unknown-topic` (before deleting any) when one does not exist.
   */
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** Disconnects. */
  close(): Promise<void>;
}
