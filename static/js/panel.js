/*
 * The operator's communication panel: line and PBX status, dial box, agent
 * state, one card per live call with the buttons its state allows, the
 * incoming-call popup, and click-to-call on every tel: link of the page.
 * Everything that came from the PBX (numbers, caller names) is set with
 * textContent only: a caller name is attacker-controlled text.
 * Requires telephony-socket.js, telephony-popup.js, panel-dom.js, panel-consultations.js and
 * panel-cards.js (loaded before it).
 */
(function () {
  "use strict";
  const T = window.Telephony;
  const { label, el, button, diallable, formatDuration, partyText } = T.dom;
  const ENDED_CARD_MS = 4000;

  class Panel {
    constructor(root, config) {
      this.root = root;
      this.config = config;
      this.calls = new Map();
      this.popups = new Map();
      this.transfers = new T.Consultations();
      this.endedTimers = new Map();
      this.connectorState = null;
      this.linkState = "connecting";
      this.reconnectAt = null;
      this.agent = null;
      this.wrapUpUntil = null;
      this.nodes = {
        link: root.querySelector("#tp-link"),
        line: root.querySelector("#tp-line"),
        pbx: root.querySelector("#tp-pbx"),
        calls: root.querySelector("#tp-calls"),
        empty: root.querySelector("#tp-empty"),
        message: root.querySelector("#tp-message"),
        popups: root.querySelector("#tp-popups"),
        dial: root.querySelector("#tp-dial"),
        number: root.querySelector("#tp-number"),
        agentState: root.querySelector("#tp-agent-state"),
        agentForm: root.querySelector("#tp-agent"),
        agentSelect: root.querySelector("#tp-agent-select"),
        agentReason: root.querySelector("#tp-agent-reason"),
        toggle: root.querySelector("#tp-toggle"),
        body: root.querySelector("#tp-body"),
      };
      this.cardView = new T.CallCards(this.nodes.calls, this);
      this.coordinator = new T.PopupCoordinator(() => this.syncPopups());
      this.socket = new T.Socket(config, {
        message: (msg) => this.onMessage(msg),
        result: (msg, command) => this.onResult(msg, command),
        status: (state, info) => this.onLinkStatus(state, info),
      });
    }

    start() {
      this.nodes.dial.addEventListener("submit", (event) => {
        event.preventDefault();
        this.dial(this.nodes.number.value);
      });
      this.nodes.agentForm.addEventListener("submit", (event) => {
        event.preventDefault();
        this.setAgentState();
      });
      this.nodes.agentSelect.addEventListener("change", () => this.showReasonField());
      this.nodes.toggle.addEventListener("click", () => this.toggleBody());
      // Another tab started, finished or cancelled a consultation.
      this.transfers.watch(() => this.restoreConsultations(false));
      // Capture phase: runs before page scripts and before the browser follows the link.
      document.addEventListener("click", (event) => this.onDocumentClick(event), true);
      document.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.dismissFocusedPopup(event);
      });
      this.showReasonField();
      this.renderAgent({ state: "ready" });
      setInterval(() => this.tick(), 1000);
      this.socket.start();
    }

    // ---- messages from the server ----

    onMessage(msg) {
      const type = String(msg.type || "");
      if (type === "hello") {
        this.applySnapshot(msg);
      } else if (type.startsWith("call.") && msg.call && msg.call.id) {
        this.applyCall(msg.call, type);
      } else if (type === "agent.state") {
        this.renderAgent(msg);
      } else if (type === "connector.state") {
        this.renderConnector(msg.state || (msg.connector && msg.connector.state));
      } else if (type === "error") {
        // The server's own words; a refusal (with close_code) is a state, not a failed action.
        const text = msg.message || msg.code || "";
        this.say(msg.close_code ? text : label("failed", { message: text }), true);
      }
    }

    applySnapshot(hello) {
      const live = new Set();
      const calls = (hello.calls || []).filter((call) => call && call.id);
      for (const call of calls) this.calls.set(call.id, call);
      this.restoreConsultations(true);
      for (const call of calls) {
        live.add(call.id);
        this.applyCall(call, "snapshot");
      }
      for (const id of Array.from(this.calls.keys())) {
        if (!live.has(id)) this.removeCall(id);
      }
      // The line may have changed in the profile while the page stayed open.
      if (hello.line && this.nodes.line) this.nodes.line.textContent = hello.line;
      if (hello.agent) this.renderAgent(hello.agent);
      this.renderConnector(hello.connector && hello.connector.state);
    }

    applyCall(call, type) {
      this.calls.set(call.id, call);
      // The caller is back with the operator (consultation cancelled or refused): no transfer is running.
      if (type === "call.transferred" || type === "call.resumed" || call.state === "ended") this.transfers.end(call.id);
      this.cardView.render(call);
      this.syncPopups();
      if (call.state === "ended" && !this.endedTimers.has(call.id)) {
        this.endedTimers.set(
          call.id,
          setTimeout(() => this.removeCall(call.id), ENDED_CARD_MS),
        );
      }
    }

    removeCall(id) {
      clearTimeout(this.endedTimers.get(id));
      this.endedTimers.delete(id);
      this.calls.delete(id);
      this.transfers.end(id);
      this.cardView.remove(id);
      this.syncPopups();
      this.renderEmpty();
    }

    onResult(msg, command) {
      if (!command) return;
      if (msg.ok) {
        if (command.type === "transfer" && command.mode === "attended") this.transfers.start(command.call_id);
        if (command.type === "agent_state" && msg.data && typeof msg.data.wrap_up_seconds === "number") {
          this.wrapUpUntil = Date.now() + msg.data.wrap_up_seconds * 1000;
          if (this.agent && this.agent.state === "wrap_up") this.renderAgent(this.agent);
        }
        if (command.type === "transfer_complete" || command.type === "transfer_cancel") {
          this.transfers.end(command.call_id);
        }
        if (command.call_id && this.calls.has(command.call_id)) this.cardView.render(this.calls.get(command.call_id));
        if (command.type === "call") this.say("");
        return;
      }
      const error = msg.error || {};
      const reason = error.code === "disconnected" ? label("not_connected") : error.message || error.code || "";
      this.say(label("failed", { message: reason }), true);
    }

    /** Consultations from storage for the calls shown as answered; re-render the cards they change. */
    restoreConsultations(prune) {
      const ongoing = (id) => this.calls.has(id) && ["active", "held"].includes(this.calls.get(id).state);
      const changed = this.transfers.restore(ongoing, prune);
      if (prune) return; // a snapshot: its calls are rendered next
      for (const id of changed) {
        if (this.calls.has(id)) this.cardView.render(this.calls.get(id));
      }
    }

    onLinkStatus(state, info) {
      this.linkState = state;
      const node = this.nodes.link;
      node.dataset.state = state;
      if (state === "connected") {
        node.textContent = label("connected");
      } else if (state === "connecting") {
        node.textContent = label("connecting");
      } else {
        this.reconnectAt = Date.now() + (info.delay || 0);
        this.showCountdown();
      }
      this.root.dataset.link = state;
    }

    /** "Offline, reconnecting in N s", counted down by tick() so the number stays true. */
    showCountdown() {
      const seconds = Math.max(0, Math.ceil((this.reconnectAt - Date.now()) / 1000));
      this.nodes.link.textContent = label("offline", { seconds: seconds });
    }

    // ---- rendering ----

    renderConnector(state) {
      this.connectorState = state || null;
      const node = this.nodes.pbx;
      node.dataset.state = state || "unknown";
      if (state === "connected") node.textContent = label("pbx_connected");
      else if (state === "down") node.textContent = label("pbx_down");
      else if (state) node.textContent = label("pbx_reconnecting");
      else node.textContent = "";
      node.hidden = !state;
    }

    renderAgent(agent) {
      const state = agent.state || "ready";
      this.agent = { state: state, reason: agent.reason || null };
      if (state !== "wrap_up") this.wrapUpUntil = null;
      const node = this.nodes.agentState;
      node.dataset.state = state;
      if (state === "not_ready" && agent.reason) node.textContent = label("agent_paused_reason", { reason: agent.reason });
      else node.textContent = label("agent_" + state);
      if (state === "wrap_up" && this.wrapUpUntil) {
        // The server said how long wrap-up lasts (result data): show the time left.
        node.textContent += " · " + formatDuration(Math.max(0, (this.wrapUpUntil - Date.now()) / 1000));
      }
      this.root.dataset.agent = state;
    }

    renderEmpty() {
      this.nodes.empty.hidden = this.calls.size > 0;
    }

    tick() {
      if (this.linkState === "offline" && this.reconnectAt) this.showCountdown();
      for (const [id, call] of this.calls) {
        const card = this.cardView.get(id);
        if (card && call.state !== "ended") this.cardView.updateTimer(card, call);
      }
      if (this.wrapUpUntil && this.agent) this.renderAgent(this.agent);
      this.coordinator.refresh();
      this.syncPopups();
    }

    // ---- incoming-call popups (one per call across all tabs) ----

    syncPopups() {
      for (const [id, popup] of this.popups) {
        const call = this.calls.get(id);
        if (!call || call.state !== "ringing" || !this.coordinator.owns(id)) {
          popup.remove();
          this.popups.delete(id);
          if (!call || call.state !== "ringing") this.coordinator.finish(id);
        }
      }
      for (const [id, call] of this.calls) {
        if (call.state !== "ringing") {
          this.coordinator.finish(id);
          continue;
        }
        if (this.popups.has(id)) {
          this.fillPopup(this.popups.get(id), call);
          continue;
        }
        this.coordinator.claim(id).then((mine) => {
          const current = this.calls.get(id);
          if (mine && current && current.state === "ringing" && !this.popups.has(id)) this.showPopup(current);
        });
      }
    }

    showPopup(call) {
      const popup = el("div", "tp-popup");
      popup.setAttribute("role", "alertdialog");
      popup.dataset.callId = call.id;
      const titleId = "tp-popup-title-" + this.popups.size + "-" + Date.now();
      popup.setAttribute("aria-labelledby", titleId);
      const title = el("h2", "tp-popup-title", label("incoming_call"));
      title.id = titleId;
      popup.append(title, el("p", "tp-popup-name"), el("p", "tp-popup-number"), el("p", "tp-popup-meta"));
      const actions = el("div", "tp-actions");
      if (this.config.demo) {
        actions.append(button(label("demo_answer"), "tp-answer", () => this.command({ type: "demo_answer", call_id: call.id })));
      }
      actions.append(
        button(label("reject"), "tp-hangup", () => this.command({ type: "hangup", call_id: call.id })),
        button(label("dismiss"), "tp-dismiss", () => this.dismissPopup(call.id)),
      );
      popup.append(actions);
      this.fillPopup(popup, call);
      this.popups.set(call.id, popup);
      this.nodes.popups.append(popup);
      // Announced through the aria-live region; focus stays where the operator is typing.
      this.nodes.popups.dataset.count = String(this.popups.size);
    }

    fillPopup(popup, call) {
      popup.querySelector(".tp-popup-name").textContent = call.remote_name || "";
      popup.querySelector(".tp-popup-number").textContent = partyText(call);
      popup.querySelector(".tp-popup-meta").textContent = call.queue ? label("via_queue", { queue: call.queue }) : "";
    }

    dismissPopup(id) {
      this.coordinator.dismiss(id);
      const popup = this.popups.get(id);
      if (popup) popup.remove();
      this.popups.delete(id);
    }

    dismissFocusedPopup(event) {
      const popup = event.target.closest && event.target.closest(".tp-popup");
      if (popup) this.dismissPopup(popup.dataset.callId);
    }

    // ---- commands ----

    command(message) {
      const ref = this.socket.send(message);
      if (ref === null) this.say(label("not_connected"), true);
      return ref;
    }

    dial(raw) {
      const number = diallable(raw);
      if (!number) return;
      if (this.command({ type: "call", number: number }) !== null) this.say(label("calling", { number: number }));
    }

    setAgentState() {
      const state = this.nodes.agentSelect.value;
      const message = { type: "agent_state", state: state };
      const reason = this.nodes.agentReason.value.trim();
      if (state === "not_ready" && reason) message.reason = reason;
      this.command(message);
    }

    showReasonField() {
      const wrap = this.nodes.agentReason.closest(".tp-reason") || this.nodes.agentReason;
      wrap.hidden = this.nodes.agentSelect.value !== "not_ready";
    }

    onDocumentClick(event) {
      if (event.defaultPrevented || !event.target.closest) return;
      const link = event.target.closest('a[href^="tel:"]');
      if (!link) return;
      event.preventDefault();
      let number = link.getAttribute("href").slice(4);
      try {
        number = decodeURIComponent(number);
      } catch (error) {
        // A malformed escape: keep the raw text, the filter below still applies.
      }
      number = number.replace(/[^0-9+*#]/g, "");
      if (number) this.dial(number);
    }

    toggleBody() {
      const hidden = !this.nodes.body.hidden;
      this.nodes.body.hidden = hidden;
      this.nodes.toggle.setAttribute("aria-expanded", String(!hidden));
      this.root.dataset.collapsed = String(hidden);
    }

    say(text, isError) {
      this.nodes.message.textContent = text;
      this.nodes.message.dataset.kind = isError ? "error" : "info";
    }
  }

  function boot() {
    const root = document.getElementById("telephony-panel");
    const configNode = document.getElementById("telephony-config");
    if (!root || !configNode) return;
    const config = JSON.parse(configNode.textContent);
    T.dom.setLabels(config.labels);
    const panel = new Panel(root, config);
    T.panel = panel;
    panel.start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
