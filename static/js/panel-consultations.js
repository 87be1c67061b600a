/*
 * Calls with an attended transfer under way, shared by the tabs and kept across
 * page loads in localStorage: the panel is on every page, and an operator who
 * moves on while consulting still needs Complete/Cancel. The panel cards ask
 * has(id); panel.js starts, ends and restores them.
 */
(function () {
  "use strict";
  const T = (window.Telephony = window.Telephony || {});
  const KEY = "telephony.consulting";

  function stored() {
    try {
      const ids = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
    } catch (e) {
      return []; // storage blocked or garbled: the buttons come back with the next transfer
    }
  }

  class Consultations {
    constructor() {
      this.ids = new Set(stored());
    }

    has(id) {
      return this.ids.has(id);
    }

    start(id) {
      this.ids.add(id);
      this.store();
    }

    end(id) {
      if (this.ids.delete(id)) this.store();
    }

    store() {
      try {
        if (this.ids.size) localStorage.setItem(KEY, JSON.stringify(Array.from(this.ids)));
        else localStorage.removeItem(KEY);
      } catch (e) {
        // storage blocked: this page still knows
      }
    }

    /**
     * Take the stored consultations for which ongoing(id) holds; returns the ids whose state may
     * have changed. After a snapshot the panel knows every live call of the line, so it also
     * forgets the rest (prune); on another tab's change it only reads, as it may not have seen
     * that tab's newest call yet.
     */
    restore(ongoing, prune) {
      const before = this.ids;
      this.ids = new Set(stored().filter(ongoing));
      if (prune) this.store();
      return Array.from(new Set([...before, ...this.ids]));
    }

    /** Call back when another tab changed the stored consultations. */
    watch(callback) {
      window.addEventListener("storage", (event) => {
        if (event.key === KEY) callback();
      });
    }
  }

  T.Consultations = Consultations;
})();
