// A small W3C WebDriver client for tauri-driver. tauri-driver drops connections that are opened
// per request, so every request goes over ONE kept-alive HTTP connection.
import http from "node:http";

export class WebDriverError extends Error {
  constructor(status, value, what) {
    super(`${what}: ${value?.error ?? status}: ${value?.message ?? ""}`.trim());
    this.error = value?.error;
  }
}

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export const Keys = {
  Backspace: "\uE003",
  Tab: "\uE004",
  Enter: "\uE007",
  Shift: "\uE008",
  Control: "\uE009",
  End: "\uE010",
  Home: "\uE011",
  ArrowLeft: "\uE012",
  ArrowUp: "\uE013",
  ArrowRight: "\uE014",
  ArrowDown: "\uE015",
};

export class WebDriver {
  constructor(port) {
    this.port = port;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.session = null;
  }

  request(method, path, body) {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: payload
            ? { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(payload) }
            : {},
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json;
            try {
              json = text ? JSON.parse(text) : {};
            } catch {
              reject(new Error(`${method} ${path}: not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
              return;
            }
            if (res.statusCode >= 400 || json?.value?.error) {
              reject(new WebDriverError(res.statusCode, json.value, `${method} ${path}`));
            } else {
              resolve(json.value);
            }
          });
        },
      );
      // A timer of our own: a socket timeout on the shared kept-alive connection would fire for
      // whichever request happens to be in flight.
      const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)), 60_000);
      req.on("close", () => clearTimeout(timer));
      req.on("error", reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  s(path) {
    if (!this.session) throw new Error("no WebDriver session");
    return `/session/${this.session}${path}`;
  }

  async status() {
    return this.request("GET", "/status");
  }

  async start(application, args = []) {
    const value = await this.request("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application, args } } },
    });
    this.session = value.sessionId;
    return value;
  }

  async quit() {
    if (!this.session) return;
    try {
      await this.request("DELETE", this.s(""));
    } finally {
      this.session = null;
      this.agent.destroy();
    }
  }

  title() {
    return this.request("GET", this.s("/title"));
  }

  /** The handles of the app's windows (webviews). */
  windowHandles() {
    return this.request("GET", this.s("/window/handles"));
  }

  windowHandle() {
    return this.request("GET", this.s("/window"));
  }

  /** Commands go to the window with `handle` from now on. */
  switchToWindow(handle) {
    return this.request("POST", this.s("/window"), { handle });
  }

  /** Runs `script` (a function body) in the page; element references come back as elements. */
  execute(script, ...args) {
    return this.request("POST", this.s("/execute/sync"), { script, args });
  }

  async find(css) {
    return this.request("POST", this.s("/element"), { using: "css selector", value: css });
  }

  async findAll(css) {
    return this.request("POST", this.s("/elements"), { using: "css selector", value: css });
  }

  click(el) {
    return this.request("POST", this.s(`/element/${el[ELEMENT]}/click`), {});
  }

  type(el, text) {
    return this.request("POST", this.s(`/element/${el[ELEMENT]}/value`), { text });
  }

  text(el) {
    return this.request("GET", this.s(`/element/${el[ELEMENT]}/text`));
  }

  property(el, name) {
    return this.request("GET", this.s(`/element/${el[ELEMENT]}/property/${name}`));
  }

  attribute(el, name) {
    return this.request("GET", this.s(`/element/${el[ELEMENT]}/attribute/${name}`));
  }

  displayed(el) {
    return this.request("GET", this.s(`/element/${el[ELEMENT]}/displayed`));
  }

  /** The accessible name as the browser's accessibility tree computes it. */
  computedLabel(el) {
    return this.request("GET", this.s(`/element/${el[ELEMENT]}/computedlabel`));
  }

  /** Presses keys as a keyboard would: `chord` keys are held while `key` is pressed. */
  async press(key, ...chord) {
    const actions = [
      ...chord.map((k) => ({ type: "keyDown", value: k })),
      { type: "keyDown", value: key },
      { type: "keyUp", value: key },
      ...chord.reverse().map((k) => ({ type: "keyUp", value: k })),
    ];
    await this.request("POST", this.s("/actions"), { actions: [{ type: "key", id: "keyboard", actions }] });
    await this.request("DELETE", this.s("/actions"));
  }

  sameElement(a, b) {
    return a?.[ELEMENT] !== undefined && a?.[ELEMENT] === b?.[ELEMENT];
  }
}
