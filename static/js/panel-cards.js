/*
 * The call cards: one <li> per live call with its direction, party, state,
 * timer and the buttons its state allows (hang up, hold/resume, transfer,
 * keypad). Rebuilt on every event for the call, keeping what the operator was
 * doing (typed transfer number, open keypad, keyboard focus).
 */
(function () {
  "use strict";
  const T = (window.Telephony = window.Telephony || {});
  const { label, el, button, diallable, formatDuration, partyText } = T.dom;
  const KEYPAD_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

  class CallCards {
    /**
     * @param {HTMLElement} list the <ul> the cards go in
     * @param {object} panel gives command(message), transfers (has(call id): a consultation is under way), config, renderEmpty()
     */
    constructor(list, panel) {
      this.list = list;
      this.panel = panel;
      this.cards = new Map();
    }

    get(id) {
      return this.cards.get(id);
    }

    /** Take the card away; focus goes to the dial box if it was inside. */
    remove(id) {
      const card = this.cards.get(id);
      if (card) {
        const hadFocus = card.contains(document.activeElement);
        card.remove();
        if (hadFocus) this.panel.nodes.number.focus();
      }
      this.cards.delete(id);
    }

    render(call) {
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
      let stateText = label(call.state);
      // An ended card says why when it is not an ordinary end: transferred, busy, missed...
      if (call.state === "ended" && call.end_reason && call.end_reason !== "completed") {
        const key = "end_" + call.end_reason;
        // A reason this page has no words for (a newer server) is left out rather than shown as a key.
        if (label(key) !== key) stateText += " · " + label(key);
      }
      top.append(el("span", "tp-direction", label(call.direction)), el("span", "tp-state", stateText));
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
      else if (call.state === "held" && !this.panel.transfers.has(call.id)) meta.push(label("held_on_phone"));
      if (meta.length) card.append(el("div", "tp-meta", meta.join(" · ")));

      if (call.state !== "ended") card.append(this.actionsFor(call, card));
      this.updateTimer(card, call);
      if (fresh) this.list.append(card);
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
      this.panel.renderEmpty();
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
      if (state === "ringing" && this.panel.config.demo) {
        box.append(button(label("demo_answer"), "tp-answer", () => this.panel.command({ type: "demo_answer", call_id: id })));
      }
      if (state === "ringing" || state === "dialing" || state === "active" || state === "held") {
        const text = state === "ringing" && call.direction !== "outbound" ? label("reject") : label("hangup");
        box.append(button(text, "tp-hangup", () => this.panel.command({ type: "hangup", call_id: id }), text + ": " + who));
      }
      if (state === "active") {
        box.append(button(label("hold"), "tp-hold", () => this.panel.command({ type: "hold", call_id: id }), label("hold") + ": " + who));
      }
      // While consulting, the tracker reports the caller's call as held: finishing the transfer is what is left.
      const consulting = (state === "active" || state === "held") && this.panel.transfers.has(id);
      // Resume picks the call up from its parking slot; a hold made on the phone is ended there.
      if (state === "held" && !consulting && call.parking_slot) {
        box.append(
          button(label("resume"), "tp-resume", () => this.panel.command({ type: "resume", call_id: id }), label("resume") + ": " + who),
        );
      }
      if (consulting) {
        box.append(
          button(label("transfer_complete"), "tp-transfer-complete", () => this.panel.command({ type: "transfer_complete", call_id: id })),
          button(label("transfer_cancel"), "tp-transfer-cancel", () => this.panel.command({ type: "transfer_cancel", call_id: id })),
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
        if (number) this.panel.command({ type: "transfer", call_id: id, number: number, mode: mode });
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
        pad.append(button(key, "tp-key", () => this.panel.command({ type: "dtmf", call_id: id, digits: key })));
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
  }

  T.CallCards = CallCards;
})();
