// The agent workspace's bit of behaviour that HTML and htmx don't give: dialogs, live SLA countdowns in
// business time, the reply draft kept across reloads, presence ("replying"), and keyboard shortcuts.
// No framework, no build step; loaded with `defer` from templates/base.html (the CSP allows no inline script).
(function () {
  "use strict";

  // --- dialogs and revealed forms --------------------------------------------------------------------------

  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (dialog && !dialog.open) dialog.showModal();
    return dialog;
  }

  document.addEventListener("click", function (event) {
    const opener = event.target.closest("[data-open-dialog]");
    if (opener) openDialog(opener.dataset.openDialog);
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
    const reveal = event.target.closest("[data-reveal]");
    if (reveal) {
      const form = document.getElementById(reveal.dataset.reveal);
      form.hidden = false;
      reveal.hidden = true; // one button of that name at a time: the form's own submit takes its place
      reveal.setAttribute("aria-expanded", "true");
      const field = form.querySelector("textarea, input:not([type=hidden]), select");
      if (field) field.focus();
    }
    // A link that does a POST (UI.md's "Sign out" link): it submits its form; without script the link's own
    // page asks (GET /logout/ signs nobody out).
    const poster = event.target.closest("a[data-post-form]");
    if (poster) {
      event.preventDefault();
      document.getElementById(poster.dataset.postForm).submit();
    }
    const unreveal = event.target.closest("[data-unreveal]");
    if (unreveal) {
      const form = document.getElementById(unreveal.dataset.unreveal);
      form.hidden = true;
      const button = document.querySelector('[data-reveal="' + unreveal.dataset.unreveal + '"]');
      button.hidden = false;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });

  // --- SLA clocks: business time left, counted down in the browser -------------------------------------------
  // The server renders each running clock with the business minutes left at rendering time and the calendar's
  // working windows from then on ([[startMs, endMs], ...]). Business time that passed since = the overlap of
  // [renderedAt, now] with the windows; outside every window the clock stands still ("paused until …").

  function overlapMs(windows, from, to) {
    let total = 0;
    for (const [start, end] of windows) {
      const low = Math.max(start, from), high = Math.min(end, to);
      if (high > low) total += high - low;
    }
    return total;
  }

  function duration(minutes) {
    const whole = Math.round(Math.abs(minutes));
    const hours = Math.floor(whole / 60), rest = whole % 60;
    if (!hours) return rest + " min";
    return rest ? hours + " h " + rest + " min" : hours + " h";
  }

  // "paused until Mon 09:00" in the zone the page shows every time in (the tenant's, data-zone), as the
  // server's text does: the browser's own zone may be another one.
  const openingFormats = {};

  function openingText(ms, zone) {
    const key = zone || "UTC";
    if (!openingFormats[key]) {
      openingFormats[key] = new Intl.DateTimeFormat("en-GB", {
        timeZone: key, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    }
    const parts = {};
    openingFormats[key].formatToParts(new Date(ms)).forEach(function (part) { parts[part.type] = part.value; });
    return parts.weekday + " " + parts.hour + ":" + parts.minute;
  }

  function clockText(el, now) {
    const windows = JSON.parse(el.dataset.windows || "[]");
    const renderedAt = Number(el.dataset.renderedAt);
    const left = Number(el.dataset.leftMinutes) - overlapMs(windows, renderedAt, now) / 60000;
    const open = windows.some(([start, end]) => start <= now && now < end);
    let text = left < 0 ? "overdue by " + duration(left) : duration(left) + " left";
    if (!open) {
      const next = windows.find(([start]) => start > now);
      if (next) {
        text += ", paused until " + openingText(next[0], el.dataset.zone) + " (outside business hours)";
      }
    }
    const share = left / Number(el.dataset.targetMinutes || 1);
    return { text: text, tone: left < 0 ? "bad" : share < 0.25 ? "warn" : "ok" };
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-clock]").forEach(function (el) {
      const shown = clockText(el, now);
      el.querySelector(".clock-text").textContent = shown.text;
      el.setAttribute("aria-label", el.dataset.name + ": " + shown.text);
      el.classList.remove("tone-ok", "tone-warn", "tone-bad");
      el.classList.add("tone-" + shown.tone);
    });
  }

  setInterval(tick, 15000);

  // --- the reply draft survives reloads (an action, a refresh) until it is sent ------------------------------

  function keepDrafts(root) {
    root.querySelectorAll("form[data-draft-key]").forEach(function (form) {
      const box = form.querySelector("textarea");
      const key = "helpdesk:draft:" + form.dataset.draftKey;
      if (!box.value && localStorage.getItem(key)) box.value = localStorage.getItem(key);
      box.addEventListener("input", function () {
        localStorage.setItem(key, box.value);
        composing();
      });
      form.addEventListener("submit", function () {
        localStorage.removeItem(key);
      });
    });
  }

  // --- presence: "Maya is replying" while the composer has been typed into recently --------------------------

  let idleTimer = null;

  function setPresence(state) {
    const el = document.querySelector("[data-presence]");
    if (!el) return;
    const before = el.getAttribute("hx-vals");
    el.setAttribute("hx-vals", JSON.stringify({ state: state }));
    if (before !== el.getAttribute("hx-vals") && state === "replying") document.body.dispatchEvent(new Event("replying"));
  }

  function composing() {
    setPresence("replying");
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () { setPresence("viewing"); }, 20000);
  }

  // --- keyboard shortcuts -------------------------------------------------------------------------------------

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function rows() {
    return Array.from(document.querySelectorAll("[data-list] [data-row]"));
  }

  function select(delta) {
    const all = rows();
    if (!all.length) return;
    const current = all.findIndex((row) => row.classList.contains("selected"));
    const next = Math.min(all.length - 1, Math.max(0, current + delta));
    all.forEach((row) => row.classList.remove("selected"));
    all[next].classList.add("selected");
    const link = all[next].querySelector("a");
    if (link) link.focus();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]") && event.key !== "?") return;
    const shortcut = (key) => document.querySelector('[data-shortcut="' + key + '"]');
    switch (event.key) {
      case "?":
        openDialog("shortcuts");
        break;
      case "/":
        if (shortcut("/")) shortcut("/").focus();
        break;
      case "r":
        if (shortcut("r")) shortcut("r").focus();
        break;
      case "e":
        if (shortcut("e")) shortcut("e").click();
        break;
      case "j":
        select(1);
        break;
      case "k":
        select(-1);
        break;
      case "Enter": {
        const selected = document.querySelector("[data-list] [data-row].selected a");
        if (selected && document.activeElement !== selected) selected.click();
        return;
      }
      default:
        return;
    }
    event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    keepDrafts(document);
    tick();
  });
  document.addEventListener("htmx:afterSettle", tick);
})();
