/* The demo pages' client of the JSON API: requests, event reporting, formatting helpers.
 *
 * Identity needs no code here: the API sets the signed anonymous key as the httponly
 * cookie `feed_uk`, and same-origin requests carry it. Logged-in visitors are
 * authenticated by their session, for which the API enforces CSRF, so every write sends
 * the token of the page's <meta name="csrf-token">.
 */
(function () {
  "use strict";

  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const SECTIONS = ["hero", "grid", "stream"];
  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  function uuid4() {
    // crypto.randomUUID exists only in secure contexts (https, localhost).
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function nowIso() {
    return new Date().toISOString();
  }

  function headers() {
    return { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": CSRF };
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) {
      const error = new Error(`${url}: HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", headers: headers(), body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  /* A POST that outlives the page (pagehide, navigation). fetch keepalive where the browser
   * has it, because it can carry the CSRF header a logged-in visitor needs; sendBeacon
   * otherwise (enough for anonymous visitors, whose requests need no token). */
  const KEEPALIVE = typeof Request !== "undefined" && "keepalive" in Request.prototype;

  function postOnLeave(url, body) {
    const json = JSON.stringify(body);
    if (KEEPALIVE) {
      fetch(url, { method: "POST", keepalive: true, credentials: "same-origin", headers: headers(), body: json })
        .catch(() => {});
      return true;
    }
    return navigator.sendBeacon(url, new Blob([json], { type: "application/json" }));
  }

  /* One interaction event: the fields the API expects, plus feed context when it is known. */
  function interaction(type, marketId, context) {
    const event = { event_id: uuid4(), event_type: type, market_id: marketId, occurred_at: nowIso() };
    const c = context || {};
    if (SECTIONS.includes(c.section)) event.section = c.section;
    if (Number.isInteger(c.position) && c.position >= 0) event.position = c.position;
    if (UUID_RE.test(c.feed_request_id || "")) event.feed_request_id = c.feed_request_id;
    if (c.surface) event.surface = c.surface;
    if (/^[A-Z]{2}$/.test(c.country || "")) event.country = c.country;
    if (Number.isInteger(c.dwell_ms)) event.dwell_ms = c.dwell_ms;
    if (c.metadata) event.metadata = c.metadata;
    return event;
  }

  function track(events, { leaving = false } = {}) {
    const body = { sent_at: nowIso(), events };
    return leaving ? postOnLeave("/api/track", body) : postJSON("/api/track", body);
  }

  // ----- display helpers -------------------------------------------------------------

  const compactMoney = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1,
  });
  const wholeNumber = new Intl.NumberFormat("en-US");

  function percent(p) {
    const value = Math.round(p * 100);
    if (value === 0 && p > 0) return "<1%";
    if (value === 100 && p < 1) return ">99%";
    return `${value}%`;
  }

  function hue(text) {
    let h = 0;
    for (const ch of text || "") h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  function initials(title) {
    const words = (title || "?").replace(/^Will (the )?/i, "").split(/\s+/).filter((w) => /^[A-Za-z0-9]/.test(w));
    return words.slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
  }

  /* The market's picture, or a coloured placeholder when it has none or it fails to load. */
  function picture(container, market, { eager = false } = {}) {
    container.replaceChildren();
    const fallback = () => {
      const box = document.createElement("div");
      box.className = "placeholder";
      box.style.setProperty("--hue", hue(market.category));
      box.textContent = initials(market.title);
      box.setAttribute("aria-hidden", "true");
      container.replaceChildren(box);
    };
    if (!market.image_url) return fallback();
    const img = document.createElement("img");
    img.alt = "";
    img.decoding = "async";
    if (!eager) img.loading = "lazy";
    img.addEventListener("error", fallback, { once: true });
    img.src = market.image_url;
    container.append(img);
  }

  /* The visitor's saved markets, newest first, as [{market_id, title}] under one localStorage key that both
   * pages read and write. Kept in this browser only: the API has a `bookmark` event but no "unsave", so
   * unsaving takes a market off this list and leaves what the feed learned from the save. Earlier versions
   * of the pages stored a plain list of ids under the same key: those entries are read too. */
  const SAVED_KEY = "demo.saved";

  function savedList() {
    let raw;
    try {
      raw = JSON.parse(localStorage.getItem(SAVED_KEY) || "[]");
    } catch (error) {
      return [];
    }
    if (!Array.isArray(raw)) return [];
    return raw
      .map((entry) => (typeof entry === "string" ? { market_id: entry, title: "" } : entry))
      .filter((entry) => entry && typeof entry.market_id === "string" && entry.market_id);
  }

  const saved = {
    key: SAVED_KEY,
    list: savedList,
    has: (marketId) => savedList().some((entry) => entry.market_id === marketId),
    add(marketId, title) {
      const others = savedList().filter((entry) => entry.market_id !== marketId);
      localStorage.setItem(SAVED_KEY, JSON.stringify([{ market_id: marketId, title: title || "" }, ...others]));
    },
    remove(marketId) {
      localStorage.setItem(SAVED_KEY, JSON.stringify(savedList().filter((entry) => entry.market_id !== marketId)));
    },
  };

  function odds(container, probability) {
    container.querySelector(".prob").textContent = percent(probability);
    container.querySelector(".bar-fill").style.width = `${Math.round(probability * 1000) / 10}%`;
  }

  // ----- impressions ------------------------------------------------------------------
  // A card counts as seen when at least half of it stays in view this long (ms).
  const SEEN_RATIO = 0.5;
  const SEEN_MS = 500;
  const FLUSH_MS = 3000;


  /* Queues one impression per market and feed request once its card has been at least
   * SEEN_RATIO visible for SEEN_MS; sends the queue every FLUSH_MS, before a new feed is
   * requested, and when the page is hidden or left (keepalive, so it survives the page). */
  class ImpressionTracker {
    constructor() {
      this.queue = [];
      this.seen = new Set();
      this.cards = new Map(); // element -> {item, feedRequestId}
      this.timers = new Map(); // element -> timeout id
      this.sending = null;
      this.observer = new IntersectionObserver((entries) => this.changed(entries), { threshold: [0, SEEN_RATIO, 1] });
      setInterval(() => this.flush(), FLUSH_MS);
      document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "hidden") {
          this.stopTimers();
          this.flush({ leaving: true });
        } else {
          this.recheck();
        }
      });
      window.addEventListener("pagehide", () => this.flush({ leaving: true }));
    }

    observe(element, item, feedRequestId, surfaceName) {
      this.cards.set(element, { item, feedRequestId, surface: surfaceName });
      this.observer.observe(element);
    }

    forget(element) {
      this.observer.unobserve(element);
      clearTimeout(this.timers.get(element));
      this.timers.delete(element);
      this.cards.delete(element);
    }

    forgetAll() {
      for (const element of [...this.cards.keys()]) this.forget(element);
    }

    changed(entries) {
      for (const entry of entries) {
        const element = entry.target;
        const visible = entry.isIntersecting && entry.intersectionRatio >= SEEN_RATIO - 0.001;
        if (visible && !this.timers.has(element)) {
          this.timers.set(element, setTimeout(() => this.record(element), SEEN_MS));
        } else if (!visible) {
          clearTimeout(this.timers.get(element));
          this.timers.delete(element);
        }
      }
    }

    stopTimers() {
      for (const id of this.timers.values()) clearTimeout(id);
      this.timers.clear();
    }

    recheck() {
      // Observing again reports the current intersection of every card.
      for (const element of this.cards.keys()) {
        this.observer.unobserve(element);
        this.observer.observe(element);
      }
    }

    /* A card the visitor acted on was seen, however briefly it was in view. */
    recordNow(element) {
      clearTimeout(this.timers.get(element));
      this.record(element, { acted: true });
    }

    record(element, { acted = false } = {}) {
      this.timers.delete(element);
      const card = this.cards.get(element);
      if (!card || (!acted && document.visibilityState !== "visible")) return;
      const { item, feedRequestId, surface: surfaceName } = card;
      const key = `${feedRequestId}:${item.market_id}`;
      if (this.seen.has(key)) return;
      this.seen.add(key);
      element.dataset.seen = "true";
      this.queue.push({
        surface: surfaceName,
        impression: {
          event_id: uuid4(), market_id: item.market_id, feed_request_id: feedRequestId,
          section: item.section, position: item.position, shown_at: nowIso(),
        },
      });
    }

    /* The next batch: up to `size` queued impressions of one surface (a batch names one surface;
     * switching tabs can leave two in the queue). */
    take(size) {
      const first = this.queue[0].surface;
      const batch = [];
      this.queue = this.queue.filter((entry) => {
        if (entry.surface !== first || batch.length >= size) return true;
        batch.push(entry);
        return false;
      });
      return batch;
    }

    body(batch) {
      return { sent_at: nowIso(), surface: batch[0].surface, impressions: batch.map((e) => e.impression) };
    }

    flush({ leaving = false } = {}) {
      if (leaving) {
        while (this.queue.length) postOnLeave("/api/impressions", this.body(this.take(100)));
        return Promise.resolve();
      }
      if (this.sending) return this.sending.then(() => this.flush());
      if (!this.queue.length) return Promise.resolve();
      const batch = this.take(200);
      this.sending = postJSON("/api/impressions", this.body(batch))
        .then(() => true, () => {
          this.queue.unshift(...batch); // sent again on the next flush: event_ids make it safe
          return false;
        })
        .finally(() => { this.sending = null; })
        .then((sent) => (sent && this.queue.length ? this.flush() : undefined)); // e.g. another surface's
      return this.sending;
    }
  }


  window.DemoApi = {
    ImpressionTracker, uuid4, nowIso, getJSON, postJSON, postOnLeave, interaction, track,
    percent, money: (v) => compactMoney.format(v || 0), number: (v) => wholeNumber.format(v || 0),
    picture, odds, hue, saved,
  };
})();
