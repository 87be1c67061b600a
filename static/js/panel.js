/*
 * The operator's communication panel: line and PBX status, dial box, agent
 * state, one card per live call with the buttons its state allows, the
 * incoming-call popup, and click-to-call on every tel: link of the page.
 * Everything that came from the PBX (numbers, caller names) is set with
 * textContent only: a caller name is attacker-controlled text.
 * Requires telephony-socket.js and telephony-popup.js (loaded before it).
 */
(function () {
  "use strict";
  const T = window.Telephony;
  const ENDED_CARD_MS = 4000;
  const KEYPAD_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

  let labels = {};

  /** A translated label with %(name)s placeholders filled (the result is plain text). */
  function label(key, values) {
    let text = labels[key] || key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("%(" + name + ")s").join(String(value));
    }
    return text;
  }

  /** Create an element with a class and plain text content. */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(text, className, onClick, ariaLabel) {
    const node = el("button", "tp-btn " + (className || ""), text);
    node.type = "button";
    if (ariaLabel) node.setAttribute("aria-label", ariaLabel);
    node.addEventListener("click", onClick);
    return node;
  }

  /** Only what a PBX can dial: the same characters the server's validator accepts. */
  function diallable(text) {
    return String(text || "").replace(/[\s().\-]/g, "");
  }

  function formatDuration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const hh = Math.floor(s / 3600);
    const mm = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return hh ? hh + ":" + String(mm).padStart(2, "0") + ":" + ss : String(mm).padStart(2, "0") + ":" + ss;
  }

  function partyText(call) {
    return call.remote_number || label("unknown_number");
  }

  class Panel {
    constructor(root, config) {
      this.root = root;
      this.config = config;
      this.calls = new Map();
      this.cards = new Map();
      this.popups = new Map();
      this.transfers = new Set();
      this.endedTimers = new Map();
      this.connectorState = null;
      this.linkState = "connecting";
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
        // A refusal (with close_code) or a malformed command: the server's own words.
        this.say(label("failed", { message: msg.message || msg.code || "" }), true);
      }
    }

    applySnapshot(hello) {
      const live = new Set();
      for (const call of hello.calls || []) {
        if (call && call.id) {
          live.add(call.id);
          this.applyCall(call, "snapshot");
        }
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
      if (type === "call.transferred" || call.state === "ended") this.transfers.delete(call.id);
      this.renderCard(call);
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
      this.transfers.delete(id);
      const card = this.cards.get(id);
      if (card) {
        const hadFocus = card.contains(document.activeElement);
        card.remove();
        if (hadFocus) this.nodes.number.focus();
      }
      this.cards.delete(id);
      this.syncPopups();
      this.renderEmpty();
    }

    onResult(msg, command) {
      if (!command) return;
      if (msg.ok) {
        if (command.type === "transfer" && command.mode === "attended") this.transfers.add(command.call_id);
        if (command.type === "transfer_complete" || command.type === "transfer_cancel") {
          this.transfers.delete(command.call_id);
        }
        if (command.call_id && this.calls.has(command.call_id)) this.renderCard(this.calls.get(command.call_id));
        if (command.type === "call") this.say("");
        return;
      }
      const error = msg.error || {};
      const reason = error.code === "disconnected" ? label("not_connected") : error.message || error.code || "";
      this.say(label("failed", { message: reason }), true);
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
        node.textContent = label("offline", { seconds: Math.ceil((info.delay || 0) / 1000) });
      }
      this.root.dataset.link = state;
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
      const node = this.nodes.agentState;
      node.dataset.state = state;
      if (state === "not_ready" && agent.reason) node.textContent = label("agent_paused_reason", { reason: agent.reason });
      else node.textContent = label("agent_" + state);
      this.root.dataset.agent = state;
    }

    renderEmpty() {
      this.nodes.empty.hidden = this.calls.size > 0;
    }

    renderCard(call) {
      let card = this.cards.get(call.id);
      const fresh = !card;
      // Keep what the operator is typing in the transfer box across a re-render.
      let typed = null;
      let hadFocus = false;
      const open = [];
      let focusedClass = null;
      if (card) {
        if (card.contains(document.activeElement) && document.activeElement.classList.contains("tp-btn")) {
          focusedClass = Array.from(document.activeElement.classList).find((name) => name !== "tp-btn") || null;
        }
        const input = card.querySelector(".tp-transfer-number");
        if (input) {
          typed = input.value;
          hadFocus = document.activeElement === input;
        }
        for (const part of [".tp-transfer", ".tp-keypad"]) {
          const node = card.querySelector(part);
          if (node && !node.hidden) open.push(part);
        }
        card.textContent = "";
      } else {
        card = el("li", "tp-call");
        this.cards.set(call.id, card);
      }
      card.dataset.callId = call.id;
      card.dataset.state = call.state;
      card.dataset.direction = call.direction;
      card.setAttribute("aria-label", label(call.direction) + ": " + partyText(call));

      const top = el("div", "tp-call-top");
      top.append(el("span", "tp-direction", label(call.direction)), el("span", "tp-state", label(call.state)));
      const timer = el("span", "tp-timer", "");
      timer.setAttribute("role", "timer");
      top.append(timer);
      card.append(top);

      const party = el("div", "tp-party");
      if (call.remote_name) party.append(el("span", "tp-name", call.remote_name));
      party.append(el("span", "tp-number", partyText(call)));
      card.append(party);

      const meta = [];
      if (call.queue) meta.push(label("via_queue", { queue: call.queue }));
      if (call.parking_slot) meta.push(label("parked_in", { slot: call.parking_slot }));
      if (meta.length) card.append(el("div", "tp-meta", meta.join(" · ")));

      if (call.state !== "ended") card.append(this.actionsFor(call, card));
      this.updateTimer(card, call);
      if (fresh) this.nodes.calls.append(card);
      for (const part of open) {
        const node = card.querySelector(part);
        const toggle = card.querySelector(part + "-toggle");
        if (node && toggle) {
          node.hidden = false;
          toggle.setAttribute("aria-expanded", "true");
        }
      }
      if (typed !== null) {
        const input = card.querySelector(".tp-transfer-number");
        if (input) {
          input.value = typed;
          if (hadFocus) input.focus();
        }
      }
      if (focusedClass) this.restoreFocus(card, focusedClass);
      this.renderEmpty();
    }

    /** Keep a keyboard user's place when a card is rebuilt (Hold becomes Resume and back). */
    restoreFocus(card, className) {
      const partner = { "tp-hold": "tp-resume", "tp-resume": "tp-hold" }[className];
      const target = card.querySelector("." + className) || (partner && card.querySelector("." + partner));
      if (target) {
        target.focus();
      } else {
        // Never land on Hang up by surprise: focus the card itself.
        card.tabIndex = -1;
        card.focus();
      }
    }

    actionsFor(call, card) {
      const id = call.id;
      const who = partyText(call);
      const box = el("div", "tp-actions");
      const state = call.state;
      if (state === "ringing" && this.config.demo) {
        box.append(button(label("demo_answer"), "tp-answer", () => this.command({ type: "demo_answer", call_id: id })));
      }
      if (state === "ringing" || state === "dialing" || state === "active" || state === "held") {
        const text = state === "ringing" && call.direction !== "outbound" ? label("reject") : label("hangup");
        box.append(button(text, "tp-hangup", () => this.command({ type: "hangup", call_id: id }), text + ": " + who));
      }
      if (state === "active") {
        box.append(button(label("hold"), "tp-hold", () => this.command({ type: "hold", call_id: id }), label("hold") + ": " + who));
      }
      if (state === "held") {
        box.append(
          button(label("resume"), "tp-resume", () => this.command({ type: "resume", call_id: id }), label("resume") + ": " + who),
        );
      }
      if (state === "active" && this.transfers.has(id)) {
        box.append(
          button(label("transfer_complete"), "tp-transfer-complete", () => this.command({ type: "transfer_complete", call_id: id })),
          button(label("transfer_cancel"), "tp-transfer-cancel", () => this.command({ type: "transfer_cancel", call_id: id })),
        );
      } else if (state === "active") {
        const toggleTransfer = button(label("transfer"), "tp-transfer-toggle", () => this.togglePart(card, ".tp-transfer", toggleTransfer));
        toggleTransfer.setAttribute("aria-expanded", "false");
        box.append(toggleTransfer);
      }
      if (state === "active") {
        const toggleKeypad = button(label("keypad"), "tp-keypad-toggle", () => this.togglePart(card, ".tp-keypad", toggleKeypad));
        toggleKeypad.setAttribute("aria-expanded", "false");
        box.append(toggleKeypad);
        const wrap = el("div", "tp-extras");
        wrap.append(box, this.transferForm(id), this.keypad(id));
        return wrap;
      }
      return box;
    }

    transferForm(id) {
      const form = el("form", "tp-transfer");
      form.hidden = true;
      const input = el("input", "tp-transfer-number");
      input.type = "tel";
      input.autocomplete = "off";
      input.maxLength = 32;
      input.setAttribute("aria-label", label("transfer_to"));
      input.placeholder = label("transfer_to");
      const send = (mode) => {
        const number = diallable(input.value);
        if (number) this.command({ type: "transfer", call_id: id, number: number, mode: mode });
      };
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        send("blind");
      });
      form.append(
        input,
        button(label("blind"), "tp-transfer-blind", () => send("blind")),
        button(label("attended"), "tp-transfer-attended", () => send("attended")),
      );
      return form;
    }

    keypad(id) {
      const pad = el("div", "tp-keypad");
      pad.hidden = true;
      pad.setAttribute("role", "group");
      pad.setAttribute("aria-label", label("keypad_for"));
      for (const key of KEYPAD_KEYS) {
        pad.append(button(key, "tp-key", () => this.command({ type: "dtmf", call_id: id, digits: key })));
      }
      return pad;
    }

    togglePart(card, selector, toggle) {
      const part = card.querySelector(selector);
      part.hidden = !part.hidden;
      toggle.setAttribute("aria-expanded", String(!part.hidden));
      if (!part.hidden) {
        const first = part.querySelector("input, button");
        if (first) first.focus();
      }
    }

    updateTimer(card, call) {
      const timer = card.querySelector(".tp-timer");
      if (!timer) return;
      const since = Date.parse(call.answered_at || call.started_at || "");
      let seconds = null;
      if (call.state === "ended") seconds = typeof call.duration === "number" ? call.duration : null;
      else if (!Number.isNaN(since)) seconds = (Date.now() - since) / 1000;
      timer.textContent = seconds === null ? "" : formatDuration(seconds);
    }

    tick() {
      for (const [id, call] of this.calls) {
        const card = this.cards.get(id);
        if (card && call.state !== "ended") this.updateTimer(card, call);
      }
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
    labels = config.labels || {};
    const panel = new Panel(root, config);
    T.panel = panel;
    panel.start();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
