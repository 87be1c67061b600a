/*
 * One incoming-call popup per call, not one per tab. The tabs of one browser
 * share localStorage: the first tab to claim a call's key shows the popup, the
 * others leave it alone. The owner refreshes its claim while the call rings, so
 * if that tab is closed or frozen another tab takes over; a dismissal is
 * remembered for every tab.
 */
(function () {
  "use strict";
  const T = (window.Telephony = window.Telephony || {});

  const PREFIX = "telephony.popup.";
  const CLAIM_TTL_MS = 6000;
  const SETTLE_MS = 80;
  // A hidden tab waits so that the tab the operator is looking at wins.
  const HIDDEN_TAB_DELAY_MS = 250;

  function read(key) {
    try {
      return JSON.parse(localStorage.getItem(key) || "null");
    } catch (error) {
      return null;
    }
  }

  function write(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (error) {
      // Storage full or disabled: this tab then simply shows its own popup.
    }
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  class PopupCoordinator {
    /** @param {function} onChange called when another tab claims, releases or dismisses a popup */
    constructor(onChange) {
      this.tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);
      this.owned = new Set();
      this.claiming = new Set();
      this.onChange = onChange;
      window.addEventListener("storage", (event) => {
        if (event.key === null || event.key.startsWith(PREFIX)) {
          this.reconcile();
          this.onChange();
        }
      });
      window.addEventListener("pagehide", () => this.releaseAll());
      this.sweep();
    }

    owns(callId) {
      return this.owned.has(callId);
    }

    dismissed(callId) {
      const entry = read(PREFIX + callId);
      return Boolean(entry && entry.dismissed);
    }

    /** Resolve true when this tab should show the popup for `callId`. */
    async claim(callId) {
      if (this.owned.has(callId)) return true;
      if (this.claiming.has(callId)) return false;
      this.claiming.add(callId);
      try {
        if (document.visibilityState !== "visible") await sleep(HIDDEN_TAB_DELAY_MS);
        const key = PREFIX + callId;
        const current = read(key);
        if (current && (current.dismissed || (current.tab !== this.tabId && Date.now() - current.at < CLAIM_TTL_MS))) {
          return false;
        }
        write(key, { tab: this.tabId, at: Date.now() });
        // Two tabs may write at once: the last write wins, and both see the same winner.
        await sleep(SETTLE_MS);
        const winner = read(key);
        if (winner && winner.tab === this.tabId && !winner.dismissed) {
          this.owned.add(callId);
          return true;
        }
        return !winner;
      } finally {
        this.claiming.delete(callId);
      }
    }

    /** Give up claims another tab has taken over or dismissed (a slow tab may have lost a race). */
    reconcile() {
      for (const callId of Array.from(this.owned)) {
        const entry = read(PREFIX + callId);
        if (entry && (entry.tab !== this.tabId || entry.dismissed)) this.owned.delete(callId);
      }
    }

    /** Keep this tab's claims alive (called every second while calls ring). */
    refresh() {
      this.reconcile();
      for (const callId of this.owned) {
        write(PREFIX + callId, { tab: this.tabId, at: Date.now() });
      }
    }

    dismiss(callId) {
      this.owned.delete(callId);
      write(PREFIX + callId, { tab: this.tabId, at: Date.now(), dismissed: true });
    }

    /** The call stopped ringing: forget it everywhere. */
    finish(callId) {
      const had = this.owned.delete(callId);
      if (had || read(PREFIX + callId)) {
        try {
          localStorage.removeItem(PREFIX + callId);
        } catch (error) {
          // Nothing to clean up when storage is unavailable.
        }
      }
    }

    releaseAll() {
      for (const callId of this.owned) {
        const entry = read(PREFIX + callId);
        if (entry && entry.tab === this.tabId && !entry.dismissed) localStorage.removeItem(PREFIX + callId);
      }
      this.owned.clear();
    }

    /** Drop keys left behind by calls that ended while no tab was open. */
    sweep() {
      try {
        for (let i = localStorage.length - 1; i >= 0; i -= 1) {
          const key = localStorage.key(i);
          if (key && key.startsWith(PREFIX)) {
            const entry = read(key);
            if (!entry || Date.now() - entry.at > 3600 * 1000) localStorage.removeItem(key);
          }
        }
      } catch (error) {
        // Storage unavailable: nothing to sweep.
      }
    }
  }

  T.PopupCoordinator = PopupCoordinator;
})();
