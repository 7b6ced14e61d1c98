/**
 * A headless Chromium driven over the Chrome DevTools Protocol with Deno's own WebSocket:
 * enough to load a page, read what it shows, act on it as a person would (type, click) and
 * take a screenshot. No npm package: the protocol is a few JSON messages.
 *
 * @module
 */

/** Where Chromium is: `$CHROMIUM_BIN`, else the first of Debian's names on the PATH. */
export function chromiumPath(): string {
  const given = Deno.env.get("CHROMIUM_BIN");
  if (given) return given;
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // Not there.
      }
    }
  }
  throw new Error(
    "Chromium is not installed: apt-get install chromium (what .ci/run does), or set CHROMIUM_BIN",
  );
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** A running headless Chromium. */
export class Browser implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #profile: string;
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  private constructor(child: Deno.ChildProcess, profile: string, socket: WebSocket) {
    this.#child = child;
    this.#profile = profile;
    this.#socket = socket;
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.id === undefined) return; // an event: nothing here waits for them
      const pending = this.#pending.get(data.id);
      this.#pending.delete(data.id);
      if (data.error) pending?.reject(new Error(`CDP: ${JSON.stringify(data.error)}`));
      else pending?.resolve(data.result);
    };
  }

  /** Starts Chromium with a profile of its own; resolves once its DevTools socket is open. */
  static async launch(): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "troupe-chromium-" });
    const child = new Deno.Command(chromiumPath(), {
      args: [
        "--headless=new",
        "--no-sandbox", // runs as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const url = await devToolsUrl(child.stderr);
      const socket = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error(`cannot open ${url}`));
      });
      return new Browser(child, profile, socket);
    } catch (error) {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Sends a DevTools command (to a page when `sessionId` is given). */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<T> {
    const id = this.#next++;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set(id, { resolve, reject });
    this.#socket.send(JSON.stringify({ id, method, params, sessionId }));
    return promise as Promise<T>;
  }

  /** Opens a tab of `width` x `height` (a phone: `mobile`), optionally in dark mode. */
  async open(
    url: string,
    options: { width?: number; height?: number; mobile?: boolean; dark?: boolean } = {},
  ): Promise<Page> {
    const { targetId } = await this.send<{ targetId: string }>("Target.createTarget", {
      url: "about:blank",
    });
    const { sessionId } = await this.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    const page = new Page(this, sessionId, targetId);
    await page.send("Emulation.setDeviceMetricsOverride", {
      width: options.width ?? 1280,
      height: options.height ?? 900,
      deviceScaleFactor: 1,
      mobile: options.mobile ?? false,
    });
    await page.send("Emulation.setEmulatedMedia", {
      features: [{ name: "prefers-color-scheme", value: options.dark ? "dark" : "light" }],
    });
    await page.send("Page.enable");
    await page.send("Page.navigate", { url });
    return page;
  }

  /** Stops Chromium and removes its profile. */
  async close(): Promise<void> {
    try {
      this.#socket.close();
    } catch {
      // Already closed.
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.#child.status;
    await this.#child.stderr.cancel().catch(() => {});
    // Chromium's helper processes outlive the browser for a moment and still write to the
    // profile, so a first removal can fail (folders were left behind): try again a few times.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await Deno.remove(this.#profile, { recursive: true });
        return;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One tab. */
export class Page {
  readonly #browser: Browser;
  readonly #sessionId: string;
  readonly #targetId: string;

  /** Wraps an attached tab; {@linkcode Browser.open} makes one. */
  constructor(browser: Browser, sessionId: string, targetId: string) {
    this.#browser = browser;
    this.#sessionId = sessionId;
    this.#targetId = targetId;
  }

  /** Sends a DevTools command to this tab. */
  send<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
  ): Promise<T> {
    return this.#browser.send<T>(method, params, this.#sessionId);
  }

  /** The value of a JavaScript expression in the page (awaited when it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const answer = await this.send<{
      result: { value?: unknown };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    }>("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
    if (answer.exceptionDetails) {
      const details = answer.exceptionDetails;
      throw new Error(`in the page: ${details.exception?.description ?? details.text}`);
    }
    return answer.result.value as T;
  }

  /** Waits until `expression` is truthy in the page; fails with `what` after `timeoutMs`. */
  async waitFor(expression: string, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const value = await this.evaluate<unknown>(expression).catch(() => false);
      if (value) return;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Types `text` into the element `selector` as keystrokes would. */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
    await this.send("Input.insertText", { text });
  }

  /** Clicks the middle of the element `selector` with the mouse. */
  async click(selector: string): Promise<void> {
    const box = await this.evaluate<{ x: number; y: number } | null>(`(() => {
      const node = document.querySelector(${JSON.stringify(selector)});
      if (!node) return null;
      node.scrollIntoView({ block: "center" });
      const rect = node.getBoundingClientRect();
      // The middle of its visible part: a wide row may reach past a phone's screen.
      const left = Math.max(rect.left, 0), right = Math.min(rect.right, innerWidth);
      const top = Math.max(rect.top, 0), bottom = Math.min(rect.bottom, innerHeight);
      return { x: (left + right) / 2, y: (top + bottom) / 2 };
    })()`);
    if (!box) throw new Error(`nothing to click at ${selector}`);
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", {
        type,
        x: box.x,
        y: box.y,
        button: "left",
        clickCount: 1,
      });
    }
  }

  /** A PNG of the whole page. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send<{ data: string }>("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    return Uint8Array.from(atob(data), (char) => char.charCodeAt(0));
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    await this.#browser.send("Target.closeTarget", { targetId: this.#targetId }).catch(() => {});
  }
}

/** Reads Chromium's stderr until it names its DevTools socket, then drains the rest. */
async function devToolsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => reader.cancel().catch(() => {}), 30_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`Chromium did not start:\n${seen}`);
      seen += value;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (match) {
        // Keep reading in the background so that Chromium never blocks on a full pipe.
        (async () => {
          while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
        })();
        return match[1];
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}
