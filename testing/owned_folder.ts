/**
 * A temporary folder that says which process owns it and which brokers run in it, so that a
 * later start can clean up after a process that died without stopping its brokers.
 *
 * @module
 */

const PREFIX = "troupe-kafka-";

function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** What `owner.json` holds. `broker` is what earlier versions wrote. */
interface Owner {
  owner: number;
  brokers?: number[];
  broker?: number;
}

/**
 * Removes what earlier runs left behind when their process died without stopping: folders
 * whose owner is gone, and the brokers still running in one. A broker is killed only when its
 * command line names that folder, so no unrelated process is touched. Linux only (/proc).
 */
async function reapOrphans(tempRoot: string): Promise<void> {
  if (Deno.build.os !== "linux") return;
  for await (const entry of Deno.readDir(tempRoot)) {
    if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
    const dir = `${tempRoot}/${entry.name}`;
    try {
      const owner = JSON.parse(await Deno.readTextFile(`${dir}/owner.json`)) as Owner;
      if (isAlive(owner.owner)) continue;
      for (const pid of [...owner.brokers ?? [], ...owner.broker ? [owner.broker] : []]) {
        if (isAlive(pid) && commandLine(pid).includes(dir)) Deno.kill(pid, "SIGKILL");
      }
      await Deno.remove(dir, { recursive: true });
    } catch {
      // Not ours to judge (no owner file yet, another user's folder): leave it.
    }
  }
}

/**
 * A fresh temporary folder owned by this process, for one broker or a cluster of them.
 * Creating one first removes the folders (and kills the brokers) of owners that are gone.
 *
 * @example
 * ```ts ignore
 * const folder = await OwnedFolder.create();
 * await folder.recordBrokers([12345]);
 * await folder.remove();
 * ```
 */
export class OwnedFolder {
  /** The folder's path. */
  readonly path: string;
  #removed = false;

  private constructor(path: string) {
    this.path = path;
  }

  /** Creates the folder, marks it as this process's, and cleans up orphans beside it. */
  static async create(): Promise<OwnedFolder> {
    const path = await Deno.makeTempDir({ prefix: PREFIX });
    const folder = new OwnedFolder(path);
    await folder.recordBrokers([]);
    await reapOrphans(path.slice(0, path.lastIndexOf("/"))).catch(() => {});
    return folder;
  }

  /** Records the pids of the brokers running in the folder now. */
  async recordBrokers(pids: readonly number[]): Promise<void> {
    if (this.#removed) return;
    const owner: Owner = { owner: Deno.pid, brokers: [...pids] };
    await Deno.writeTextFile(`${this.path}/owner.json`, JSON.stringify(owner));
  }

  /** Removes the folder and everything in it. Safe to call twice. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await Deno.remove(this.path, { recursive: true }).catch(() => {});
  }
}
