/**
 * The in-memory group coordinator: membership, generations, rebalances and committed offsets
 * of one consumer group, following Kafka's group protocol as KafkaJS consumers see it.
 *
 * @module
 */

import { assignSticky } from "../../kafka/sticky_assignment.ts";
import { STICKY_ASSIGNER } from "../../kafka/sticky_assigner.ts";
import { type Assignment, ROUND_ROBIN, roundRobin } from "./assignment.ts";
import { protocolError } from "./errors.ts";

/** Where a group is in Kafka's group state machine. */
export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable";

/** A JoinGroup request. */
export interface JoinRequest {
  /** The member's id, or `""` for a member joining for the first time. */
  readonly memberId: string;
  /** The client's id; new member ids start with it. */
  readonly clientId: string;
  /** The topics it subscribes to. */
  readonly topics: readonly string[];
  /** How long the group waits for it to re-join in a rebalance, ms. */
  readonly rebalanceTimeout: number;
  /** The assignment protocols it supports (its assigners' names), preferred first. */
  readonly protocols: readonly string[];
}

/** The answer to a JoinGroup, once every member has joined the round. */
export interface JoinResponse {
  /** The new generation. */
  readonly generationId: number;
  /** The member's id. */
  readonly memberId: string;
  /** The leader's member id. */
  readonly leaderId: string;
  /** The assignment protocol chosen. */
  readonly protocol: string;
}

/** A join in flight: the member id (known at once) and the answer (once the round completes). */
export interface PendingJoin {
  /** The member's id, assigned by the coordinator for a new member. */
  readonly memberId: string;
  /** Resolves when the round completes; rejects when the member is removed meanwhile. */
  readonly response: Promise<JoinResponse>;
}

/** An offset a group committed, with the metadata committed along. */
export interface CommittedOffset {
  /** The offset (the next record the group will read). */
  readonly offset: number;
  /** The commit's metadata string, or `null`. */
  readonly metadata: string | null;
}

/** Offsets to commit, as KafkaJS's OffsetCommit request carries them. */
export interface OffsetCommitTopic {
  /** The topic. */
  readonly topic: string;
  /** Its partitions and offsets (decimal strings or numbers). */
  readonly partitions: readonly {
    readonly partition: number;
    readonly offset: string | number;
    readonly metadata?: string | null;
  }[];
}

/** A member as `describeGroup` shows it. */
export interface GroupMemberInfo {
  /** Member id. */
  readonly memberId: string;
  /** Client id. */
  readonly clientId: string;
  /** The topics it subscribed to. */
  readonly topics: readonly string[];
  /** Its partitions in the current generation. */
  readonly assignment: Readonly<Assignment>;
}

/** What the coordinator needs from its cluster. */
export interface GroupContext {
  /** How many partitions a topic has; 0 when it does not exist. */
  partitionsOf(topic: string): number;
  /** A new member id starting with the client id, ordered by creation. */
  newMemberId(clientId: string): string;
}

/** Kafka's `offset.metadata.max.bytes` default. */
const MAX_METADATA_LENGTH = 4096;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

interface Member {
  readonly memberId: string;
  readonly clientId: string;
  topics: readonly string[];
  rebalanceTimeout: number;
  protocols: readonly string[];
  assignment: Assignment;
  /** Its JoinGroup, waiting for the round to complete. */
  join: Waiter<JoinResponse> | undefined;
  /** Its SyncGroup, waiting for the leader's. */
  sync: Waiter<Assignment> | undefined;
  /** True once it received its assignment of the current generation. */
  synced: boolean;
}

/**
 * One consumer group's coordinator.
 *
 * A join from a new member, a member leaving, or {@linkcode GroupCoordinator.rebalance}
 * starts a rebalance: the group goes to `PreparingRebalance`, and every member's heartbeat
 * answers `REBALANCE_IN_PROGRESS` until it re-joins. Once all members re-joined (or the
 * longest `rebalanceTimeout` passed, which removes the laggards), the generation goes up and
 * the partitions are spread with KafkaJS's round-robin assigner; the group is `Stable` once
 * the leader synced. Commits are fenced by generation as Kafka fences them: a stale
 * generation gets `ILLEGAL_GENERATION`, an unknown member `UNKNOWN_MEMBER_ID`, a commit
 * between the join and the leader's sync `REBALANCE_IN_PROGRESS`; commits of the current
 * generation are accepted while it prepares a rebalance, which is what lets a consumer
 * commit before it re-joins.
 *
 * Members are not timed out between rebalances: one stays in the group until it leaves
 * (disconnects or crashes) or misses a rebalance.
 *
 * @example
 * ```ts
 * import { GroupCoordinator } from "./group.ts";
 * let n = 0;
 * const group = new GroupCoordinator("billing", {
 *   partitionsOf: () => 2,
 *   newMemberId: (clientId) => `${clientId}-${++n}`,
 * });
 * const { memberId, response } = group.join({
 *   memberId: "",
 *   clientId: "app",
 *   topics: ["orders"],
 *   rebalanceTimeout: 1000,
 *   protocols: ["RoundRobinAssigner"],
 * });
 * const { generationId } = await response;
 * console.log(await group.sync(memberId, generationId)); // { orders: [0, 1] }
 * ```
 */
export class GroupCoordinator {
  /** The group's id. */
  readonly groupId: string;
  #context: GroupContext;
  #state: GroupState = "Empty";
  #generation = 0;
  #leader: string | null = null;
  #members = new Map<string, Member>();
  #offsets = new Map<string, Map<number, CommittedOffset>>();
  #rebalanceTimer: ReturnType<typeof setTimeout> | undefined;
  #settled: Waiter<number>[] = [];
  #closed: Error | undefined;

  /**
   * Creates an empty group.
   *
   * @param groupId The group's id.
   * @param context What it needs from the cluster.
   */
  constructor(groupId: string, context: GroupContext) {
    this.groupId = groupId;
    this.#context = context;
  }

  /** The group's state. */
  get state(): GroupState {
    return this.#state;
  }

  /** The current generation: 0 before the first rebalance completed. */
  get generationId(): number {
    return this.#generation;
  }

  /** The leader's member id, when there is a leader. */
  get leaderId(): string | null {
    return this.#leader;
  }

  /** The members, in the order they joined. */
  members(): GroupMemberInfo[] {
    return [...this.#members.values()].map((member) => ({
      memberId: member.memberId,
      clientId: member.clientId,
      topics: member.topics,
      assignment: structuredClone(member.assignment),
    }));
  }

  /**
   * JoinGroup: adds a new member or re-joins a known one, starting a rebalance unless one is
   * being prepared. The response resolves when the round completes.
   *
   * @throws {KafkaJSProtocolError} `UNKNOWN_MEMBER_ID` for a member id the group does not know.
   */
  join(request: JoinRequest): PendingJoin {
    this.#checkOpen();
    // As Kafka does: a member must share a protocol with every other member.
    for (const other of this.#members.values()) {
      if (other.memberId === request.memberId) continue;
      if (!other.protocols.some((name) => request.protocols.includes(name))) {
        throw protocolError("INCONSISTENT_GROUP_PROTOCOL");
      }
    }
    let member: Member;
    if (request.memberId) {
      const known = this.#members.get(request.memberId);
      if (!known) throw protocolError("UNKNOWN_MEMBER_ID");
      member = known;
      member.topics = [...request.topics];
      member.rebalanceTimeout = request.rebalanceTimeout;
      member.protocols = [...request.protocols];
      // A repeated join replaces the one in flight, as a retried request would.
      member.join?.reject(protocolError("REBALANCE_IN_PROGRESS"));
    } else {
      member = {
        memberId: this.#context.newMemberId(request.clientId),
        clientId: request.clientId,
        topics: [...request.topics],
        rebalanceTimeout: request.rebalanceTimeout,
        protocols: [...request.protocols],
        assignment: {},
        join: undefined,
        sync: undefined,
        synced: false,
      };
      this.#members.set(member.memberId, member);
    }
    const response = new Promise<JoinResponse>((resolve, reject) => {
      member.join = { resolve, reject };
    });
    // The joining consumer awaits it; this only keeps an abandoned join from being "unhandled".
    response.catch(() => {});
    if (this.#state !== "PreparingRebalance") this.#prepareRebalance();
    this.#completeJoinIfAllJoined();
    return { memberId: member.memberId, response };
  }

  /**
   * SyncGroup: the member's assignment of `generationId`. A follower's waits for the leader's
   * sync, which makes the group `Stable`.
   *
   * @throws {KafkaJSProtocolError} `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, or
   * `REBALANCE_IN_PROGRESS` when a new rebalance started meanwhile.
   */
  sync(memberId: string, generationId: number): Promise<Assignment> {
    try {
      this.#checkOpen();
      const member = this.#member(memberId, generationId);
      if (this.#state === "PreparingRebalance") throw protocolError("REBALANCE_IN_PROGRESS");
      if (this.#state === "CompletingRebalance" && memberId !== this.#leader) {
        return new Promise<Assignment>((resolve, reject) => {
          member.sync = { resolve, reject };
        });
      }
      if (this.#state === "CompletingRebalance") {
        this.#state = "Stable";
        for (const follower of this.#members.values()) {
          const waiting = follower.sync;
          follower.sync = undefined;
          if (!waiting) continue;
          follower.synced = true;
          waiting.resolve(structuredClone(follower.assignment));
        }
      }
      member.synced = true;
      const assignment = structuredClone(member.assignment);
      this.#notifyIfSettled();
      return Promise.resolve(assignment);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Heartbeat: fails when the member must re-join.
   *
   * @throws {KafkaJSProtocolError} `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`, or
   * `REBALANCE_IN_PROGRESS` while a rebalance is being prepared.
   */
  heartbeat(memberId: string, generationId: number): void {
    this.#checkOpen();
    this.#member(memberId, generationId);
    if (this.#state === "PreparingRebalance") throw protocolError("REBALANCE_IN_PROGRESS");
  }

  /** LeaveGroup: removes the member (if known) and rebalances the others. */
  leave(memberId: string): void {
    const member = this.#members.get(memberId);
    if (!member) return;
    this.#members.delete(memberId);
    member.join?.reject(protocolError("UNKNOWN_MEMBER_ID"));
    member.sync?.reject(protocolError("UNKNOWN_MEMBER_ID"));
    if (this.#leader === memberId) this.#leader = null;
    if (this.#closed) return;
    if (this.#state === "PreparingRebalance") {
      this.#completeJoinIfAllJoined();
    } else if (this.#members.size === 0) {
      this.#completeJoin();
    } else {
      this.#prepareRebalance();
    }
  }

  /**
   * OffsetCommit. A member commits under its generation; `memberId: ""` with generation -1
   * is a commit from outside the group (an admin), allowed only while the group is empty.
   *
   * @throws {KafkaJSProtocolError} `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`,
   * `REBALANCE_IN_PROGRESS`, `UNKNOWN_TOPIC_OR_PARTITION` or `OFFSET_METADATA_TOO_LARGE`;
   * nothing is stored then.
   */
  commit(memberId: string, generationId: number, topics: readonly OffsetCommitTopic[]): void {
    this.#checkOpen();
    if (!(memberId === "" && generationId < 0 && this.#members.size === 0)) {
      this.#member(memberId, generationId);
      if (this.#state === "CompletingRebalance") throw protocolError("REBALANCE_IN_PROGRESS");
    }
    const entries: [string, number, CommittedOffset][] = [];
    for (const { topic, partitions } of topics) {
      for (const { partition, offset, metadata } of partitions) {
        if (!(partition >= 0 && partition < this.#context.partitionsOf(topic))) {
          throw protocolError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}[${partition}]`);
        }
        if (metadata && metadata.length > MAX_METADATA_LENGTH) {
          throw protocolError("OFFSET_METADATA_TOO_LARGE");
        }
        entries.push([topic, partition, { offset: Number(offset), metadata: metadata ?? null }]);
      }
    }
    for (const [topic, partition, committed] of entries) {
      let partitions = this.#offsets.get(topic);
      if (!partitions) this.#offsets.set(topic, partitions = new Map());
      partitions.set(partition, committed);
    }
  }

  /** The group's committed offset of a partition, if any. */
  committed(topic: string, partition: number): CommittedOffset | undefined {
    return this.#offsets.get(topic)?.get(partition);
  }

  /** The topics the group committed offsets for. */
  committedTopics(): string[] {
    return [...this.#offsets.keys()];
  }

  /** True when the group has neither members nor committed offsets (Kafka would not list it). */
  get isEmpty(): boolean {
    return this.#members.size === 0 && this.#offsets.size === 0;
  }

  /** Drops the committed offsets of a deleted topic. */
  forgetTopic(topic: string): void {
    this.#offsets.delete(topic);
  }

  /**
   * Makes every member re-join, as if one had joined or left; resolves with the new
   * generation once every member has its new assignment (at once for a group without
   * members).
   */
  rebalance(): Promise<number> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#members.size === 0) return Promise.resolve(this.#generation);
    const settled = new Promise<number>((resolve, reject) => {
      this.#settled.push({ resolve, reject });
    });
    if (this.#state !== "PreparingRebalance") this.#prepareRebalance();
    return settled;
  }

  /** Fails everything in flight with `error` and every later request: the cluster stopped. */
  close(error: Error): void {
    this.#closed = error;
    clearTimeout(this.#rebalanceTimer);
    this.#rebalanceTimer = undefined;
    for (const member of this.#members.values()) {
      member.join?.reject(error);
      member.sync?.reject(error);
      member.join = member.sync = undefined;
    }
    const settled = this.#settled;
    this.#settled = [];
    for (const waiter of settled) waiter.reject(error);
  }

  #checkOpen(): void {
    if (this.#closed) throw this.#closed;
  }

  #member(memberId: string, generationId: number): Member {
    const member = this.#members.get(memberId);
    if (!member) throw protocolError("UNKNOWN_MEMBER_ID");
    if (generationId !== this.#generation) throw protocolError("ILLEGAL_GENERATION");
    return member;
  }

  #prepareRebalance(): void {
    this.#state = "PreparingRebalance";
    for (const member of this.#members.values()) {
      member.synced = false;
      member.sync?.reject(protocolError("REBALANCE_IN_PROGRESS"));
      member.sync = undefined;
    }
    clearTimeout(this.#rebalanceTimer);
    // Kafka waits for the slowest member's rebalance timeout before dropping the laggards.
    const timeout = Math.max(0, ...[...this.#members.values()].map((m) => m.rebalanceTimeout));
    this.#rebalanceTimer = setTimeout(() => {
      this.#rebalanceTimer = undefined;
      this.#completeJoin();
    }, timeout);
  }

  #completeJoinIfAllJoined(): void {
    if (this.#state !== "PreparingRebalance") return;
    for (const member of this.#members.values()) if (!member.join) return;
    this.#completeJoin();
  }

  #completeJoin(): void {
    clearTimeout(this.#rebalanceTimer);
    this.#rebalanceTimer = undefined;
    for (const member of [...this.#members.values()]) {
      if (!member.join) this.#members.delete(member.memberId); // missed the rebalance
    }
    this.#generation++;
    if (this.#members.size === 0) {
      this.#state = "Empty";
      this.#leader = null;
      this.#notifyIfSettled();
      return;
    }
    if (this.#leader === null || !this.#members.has(this.#leader)) {
      this.#leader = this.#members.keys().next().value!;
    }
    const leader = this.#leader;
    const members = [...this.#members.values()];
    const protocol =
      this.#members.get(leader)!.protocols.find((name) =>
        members.every((member) => member.protocols.includes(name))
      ) ?? ROUND_ROBIN;
    const assignments = this.#assign(protocol, leader);
    this.#state = "CompletingRebalance";
    for (const member of this.#members.values()) {
      member.assignment = assignments.get(member.memberId) ?? {};
      member.synced = false;
      const join = member.join!;
      member.join = undefined;
      join.resolve({
        generationId: this.#generation,
        memberId: member.memberId,
        leaderId: leader,
        protocol,
      });
    }
  }

  /**
   * The assignment of the round, by the protocol the members agreed on: troupe's sticky
   * assignment from what each member owned (its assignment of the previous generation), else
   * KafkaJS's round robin.
   */
  #assign(protocol: string, leader: string): Map<string, Assignment> {
    const partitionsOf = (topic: string) => this.#context.partitionsOf(topic);
    if (protocol !== STICKY_ASSIGNER) {
      return roundRobin([...this.#members.keys()], this.#members.get(leader)!.topics, partitionsOf);
    }
    const members = [...this.#members.values()].map((member) => ({
      memberId: member.memberId,
      topics: member.topics,
      owned: member.assignment,
      generation: this.#generation - 1,
    }));
    const topics = new Set(members.flatMap((member) => member.topics));
    const counts = new Map([...topics].map((topic) => [topic, partitionsOf(topic)]));
    return assignSticky(members, counts).assignment;
  }

  #notifyIfSettled(): void {
    if (this.#settled.length === 0) return;
    const settled = this.#state === "Empty" ||
      (this.#state === "Stable" && [...this.#members.values()].every((m) => m.synced));
    if (!settled) return;
    const waiters = this.#settled;
    this.#settled = [];
    const generation = this.#generation;
    // After a macrotask: the members' consumers take their assignments (and emit GROUP_JOIN)
    // in the microtasks that follow their sync, and the caller should see them all done.
    setTimeout(() => {
      for (const waiter of waiters) waiter.resolve(generation);
    }, 0);
  }
}
