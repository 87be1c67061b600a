/*
 * Small DOM helpers shared by the panel scripts. Text always goes in through
 * textContent: nothing here builds HTML from strings.
 */
(function () {
  "use strict";
  const T = (window.Telephony = window.Telephony || {});

  let labels = {};

  /** Install the translated labels from the panel configuration. */
  function setLabels(values) {
    labels = values || {};
  }

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

  T.dom = { setLabels, label, el, button, diallable, formatDuration, partyText };
})();
