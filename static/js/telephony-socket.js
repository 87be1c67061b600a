/*
 * The panel's websocket: connect (same origin, or SysMsgServerNode with a token),
 * reconnect with exponential backoff and jitter, track `seq` and ask for a
 * snapshot on a gap, match `result` messages to the commands that caused them,
 * and log every message in and out when debug mode is on.
 * Protocol: docs/protocol.md (PROTOCOL.md). No build step: a plain script that
 * adds `Telephony.Socket` to the page.
 */
(function () {
  "use strict";
  const T = (window.Telephony = window.Telephony || {});

  const BACKOFF_FIRST_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  // Renew the token when this share of its lifetime has passed.
  const TOKEN_RENEW_AT = 0.7;
  // The backoff step a refused connection jumps to (about 30 s).
  const REFUSED_ATTEMPT = 5;

  /** The websocket base URL: the configured node (http(s) -> ws(s)) or this site. */
  function socketBase(node) {
    if (!node) {
      return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
    }
    return node.replace(/^http(s?):\/\//i, "ws$1://").replace(/\/+$/, "");
  }

  /** Delay before reconnect attempt `attempt` (0-based): exponential, capped, with jitter. */
  function backoffDelay(attempt) {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, attempt));
    // Half fixed, half random: spreads a whole call centre reconnecting after a restart.
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  class Socket {
    /**
     * @param {object} config the panel configuration (telephony-config json_script)
     * @param {object} handlers {message(msg), result(msg, command), status(state, info)}
     */
    constructor(config, handlers) {
      this.config = config;
      this.handlers = handlers;
      this.ws = null;
      this.seq = null;
      this.debug = Boolean(config.debug);
      this.attempt = 0;
      this.refCounter = 0;
      this.pending = new Map();
      this.token = null;
      this.tokenRenewTimer = null;
      this.reconnectTimer = null;
      this.snapshotAsked = false;
    }

    start() {
      this.connect();
      // A laptop waking up or getting its network back should not wait for the backoff.
      window.addEventListener("online", () => this.reconnectNow());
    }

    get connected() {
      return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
    }

    log(direction, payload) {
      if (this.debug) {
        console.log("[telephony " + new Date().toISOString() + "] " + direction, payload);
      }
    }

    async connect() {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      this.handlers.status("connecting", {});
      const query = [];
      if (this.config.node) {
        try {
          query.push("token=" + encodeURIComponent(await this.currentToken()));
        } catch (error) {
          this.log("token", String(error));
          this.scheduleReconnect({ code: 0, reason: String(error) });
          return;
        }
      }
      // The page's language: the server words its errors in it.
      const lang = document.documentElement.lang;
      if (lang) query.push("lang=" + encodeURIComponent(lang));
      const url = socketBase(this.config.node) + this.config.ws_path + (query.length ? "?" + query.join("&") : "");
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (error) {
        this.scheduleReconnect({ code: 0, reason: String(error) });
        return;
      }
      this.ws = ws;
      ws.addEventListener("open", () => this.log("open", url.replace(/token=[^&]*/, "token=…")));
      ws.addEventListener("message", (event) => {
        if (this.ws === ws) this.receive(event.data);
      });
      ws.addEventListener("close", (event) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.log("close", { code: event.code, reason: event.reason });
        this.failPending();
        // 44xx: refused (signed out, no seat, no line...); retry slowly in case the profile changes.
        if (event.code >= 4400 && event.code < 4500) this.attempt = Math.max(this.attempt, REFUSED_ATTEMPT);
        this.scheduleReconnect({ code: event.code, reason: event.reason });
      });
    }

    /** Close the current socket and connect again at once (keeps the shown calls until `hello`). */
    reconnectNow() {
      if (this.connected) return;
      this.attempt = 0;
      if (this.ws) {
        const old = this.ws;
        this.ws = null;
        old.close();
      }
      this.connect();
    }

    scheduleReconnect(info) {
      const delay = backoffDelay(this.attempt);
      this.attempt += 1;
      this.handlers.status("offline", Object.assign({ delay: delay }, info));
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    }

    /** A valid token for the messaging node, fetched from the site when missing or near expiry. */
    async currentToken() {
      if (this.token && Date.now() < this.token.renewAt) return this.token.value;
      const response = await fetch(this.config.token_url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error("token: HTTP " + response.status);
      const data = await response.json();
      const lifetime = Number(data.expires_in || data.max_age || 300) * 1000;
      this.token = { value: data.token, renewAt: Date.now() + lifetime * TOKEN_RENEW_AT };
      // Keep a fresh token ready so a reconnect never presents an expired one.
      clearTimeout(this.tokenRenewTimer);
      this.tokenRenewTimer = setTimeout(() => {
        this.token = null;
        this.currentToken().catch((error) => this.log("token", String(error)));
      }, lifetime * TOKEN_RENEW_AT);
      return this.token.value;
    }

    receive(text) {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (error) {
        this.log("in (not JSON)", text);
        return;
      }
      if (msg === null || typeof msg !== "object") return;
      if (msg.type === "hello") {
        if (typeof msg.debug === "boolean") this.debug = msg.debug;
        this.seq = typeof msg.seq === "number" ? msg.seq : null;
        this.attempt = 0;
        this.snapshotAsked = false;
        this.log("in", msg);
        this.handlers.status("connected", {});
        this.handlers.message(msg);
        return;
      }
      this.log("in", msg);
      if (msg.type === "result") {
        const command = this.pending.get(msg.ref) || null;
        this.pending.delete(msg.ref);
        this.handlers.result(msg, command);
        return;
      }
      if (this.isLineEvent(msg) && !this.acceptSeq(msg.seq)) return;
      this.handlers.message(msg);
    }

    isLineEvent(msg) {
      return typeof msg.seq === "number" && /^(call|agent)\./.test(String(msg.type));
    }

    /** False for an event the last snapshot already covers; asks for a snapshot on a gap. */
    acceptSeq(seq) {
      if (this.seq === null) {
        this.seq = seq;
        return true;
      }
      if (seq <= this.seq) return false;
      if (seq > this.seq + 1 && !this.snapshotAsked) {
        // A lost message: the event still carries the whole call, and the snapshot fixes the rest.
        this.snapshotAsked = true;
        this.send({ type: "snapshot" });
      }
      this.seq = seq;
      return true;
    }

    /** Send a command with a fresh `ref`; returns the ref, or null when not connected. */
    send(command) {
      if (!this.connected) return null;
      this.refCounter += 1;
      const message = Object.assign({}, command, { ref: "c" + this.refCounter });
      this.pending.set(message.ref, message);
      this.log("out", message);
      this.ws.send(JSON.stringify(message));
      return message.ref;
    }

    failPending() {
      for (const command of this.pending.values()) {
        this.handlers.result(
          { type: "result", ref: command.ref, ok: false, error: { code: "disconnected", message: "" } },
          command,
        );
      }
      this.pending.clear();
    }
  }

  T.Socket = Socket;
  T.backoffDelay = backoffDelay;
  T.socketBase = socketBase;
})();
