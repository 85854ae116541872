/* The market page: GET /api/markets/{id}, a simulated bet and a save, and the time the
 * visitor spent reading, reported as one view_market event when the page is left. */
(function () {
  "use strict";

  const api = window.DemoApi;
  const $ = (selector, root = document) => root.querySelector(selector);
  const page = $("#market-page");
  const marketId = page.dataset.marketId;
  const GEO_KEY = "demo.geo";

  // Where the visitor came from (the feed puts it in the link), so events keep their feed context.
  const from = new URLSearchParams(location.search);
  const SURFACES = ["home", "category", "market_related"];
  const context = {
    section: from.get("section") || undefined,
    position: from.has("position") ? Number.parseInt(from.get("position"), 10) : undefined,
    feed_request_id: from.get("feed_request_id") || undefined,
    surface: SURFACES.includes(from.get("surface")) ? from.get("surface") : "home",
    country: localStorage.getItem(GEO_KEY) || "",
  };

  const els = {
    status: $("#market-status"), market: $("#market"), trade: $("#trade"),
    sides: document.querySelectorAll(".side"), amount: $("#bet-amount"), place: $("#place-bet"),
    betStatus: $("#bet-status"), bookmark: $("#bookmark"),
  };

  let market = null;
  let side = null;
  let intentSent = false;

  // ----- dwell ------------------------------------------------------------------------

  /* Visible reading time. One view_market per page view, sent the first time the page is
   * hidden or left (visibilitychange comes first, pagehide may follow): a view is never
   * counted twice, at the price of not counting reading after a tab switch. A page restored
   * from the back/forward cache is a new view. */
  const dwell = {
    eventId: api.uuid4(), openedAt: api.nowIso(), visibleMs: 0, sent: false,
    since: document.visibilityState === "visible" ? performance.now() : null,
    pause() {
      if (this.since !== null) this.visibleMs += performance.now() - this.since;
      this.since = null;
    },
    resume() {
      if (this.since === null) this.since = performance.now();
    },
    report() {
      this.pause();
      if (!market || this.sent) return; // an unknown market has no view to report
      this.sent = true;
      const event = api.interaction("view_market", marketId, { ...context, dwell_ms: Math.round(this.visibleMs) });
      event.event_id = this.eventId;
      event.occurred_at = this.openedAt;
      api.track([event], { leaving: true });
    },
    restart() {
      Object.assign(this, { eventId: api.uuid4(), openedAt: api.nowIso(), visibleMs: 0, sent: false, since: performance.now() });
    },
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") dwell.report();
    else dwell.resume();
  });
  window.addEventListener("pagehide", () => dwell.report());
  window.addEventListener("pageshow", (event) => { if (event.persisted) dwell.restart(); });

  // ----- rendering --------------------------------------------------------------------

  function render(m) {
    document.title = `${m.title} · Forecast`;
    api.picture($(".market-media", els.market), m, { eager: true });
    $(".category", els.market).textContent = m.category;
    $(".tags", els.market).textContent = (m.tags || []).map((t) => `#${t}`).join("  ");
    $(".market-title", els.market).textContent = m.title;
    api.odds($(".odds", els.market), m.probability);
    $(".stat-volume24").textContent = api.money(m.volume_24h);
    $(".stat-volume").textContent = api.money(m.volume_total);
    $(".stat-traders").textContent = api.number(m.participant_count);
    $(".stat-resolves").textContent = m.resolution_date
      ? new Date(m.resolution_date).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })
      : "—";
    $(".description", els.market).textContent = m.description || "No resolution rules given.";
    $(".editorial", els.market).textContent = m.editorial_description || "";
    $(".side-yes .price").textContent = `${Math.round(m.probability * 100)}¢`;
    $(".side-no .price").textContent = `${100 - Math.round(m.probability * 100)}¢`;
    const open = m.status === "open";
    for (const button of els.sides) button.disabled = !open;
    if (!open) els.betStatus.textContent = `This market is ${m.status}: betting is closed.`;
    renderOutcomes(m);
    markSaved(api.saved.has(marketId));
    els.market.hidden = false;
    els.trade.hidden = false;
  }

  /* The event's other outcomes ("Who will win the NBA Finals?": one market per team), likeliest
   * first, each a link to its own page; hidden for a yes/no market without an event. */
  function renderOutcomes(m) {
    const section = $("#event-outcomes");
    const siblings = m.event_siblings || [];
    if (!m.event || !siblings.length) return;
    $(".event-title", section).textContent = m.event.title;
    const list = $(".outcomes", section);
    list.replaceChildren(...siblings.map((s) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/markets/${encodeURIComponent(s.market_id)}`;
      link.textContent = s.title;
      const odds = document.createElement("span");
      odds.className = "outcome-prob";
      odds.textContent = s.status === "open" ? api.percent(s.probability) : s.status;
      item.append(link, odds);
      return item;
    }));
    section.hidden = false;
  }

  /* "More like this": GET /api/feed?surface=market_related&market_id=X, the caller's feed among the
   * markets most related to this one (never this one). The event's other outcomes have their own list
   * above, so one of them that is also related is not listed twice. Only for an open market: the API
   * answers 404 for a closed or resolved one. */
  const RELATED_LIMIT = 6;
  const impressions = new api.ImpressionTracker(); // the related list reports what was seen, as the feed does

  async function loadRelated(m) {
    const section = $("#related");
    if (m.status !== "open") {
      page.dataset.related = "none";
      return;
    }
    try {
      const query = new URLSearchParams({ surface: "market_related", market_id: m.market_id, limit: String(RELATED_LIMIT) });
      const feed = await api.getJSON(`/api/feed?${query}`);
      const outcomes = new Set((m.event_siblings || []).map((s) => s.market_id));
      const items = ["hero", "grid", "stream"].flatMap((name) => feed.sections[name] || [])
        .filter((item) => item.market_id !== m.market_id && !outcomes.has(item.market_id))
        .sort((a, b) => a.position - b.position);
      const nodes = items.map((item) => relatedItem(item, feed));
      $(".related-list", section).replaceChildren(...nodes);
      section.hidden = !items.length;
      nodes.forEach((node, i) => impressions.observe(node, items[i], feed.feed_request_id, feed.surface));
      page.dataset.related = items.length ? "ready" : "none";
    } catch (error) {
      page.dataset.related = "error"; // the page works without it
    }
  }

  function relatedItem(item, feed) {
    const relatedContext = {
      section: item.section, position: item.position, feed_request_id: feed.feed_request_id,
      surface: feed.surface, country: context.country,
    };
    const query = new URLSearchParams({
      section: item.section, position: String(item.position), feed_request_id: feed.feed_request_id,
      surface: feed.surface,
    });
    const li = document.createElement("li");
    li.dataset.marketId = item.market_id;
    const link = document.createElement("a");
    link.href = `/markets/${encodeURIComponent(item.market_id)}?${query}`;
    link.textContent = item.title;
    link.addEventListener("click", () => {
      impressions.recordNow(li); // a clicked item was seen, however briefly
      impressions.flush({ leaving: true });
      api.track([api.interaction("click", item.market_id, relatedContext)], { leaving: true });
    });
    const meta = document.createElement("span");
    meta.className = "related-meta";
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = item.category;
    const prob = document.createElement("span");
    prob.className = "outcome-prob";
    prob.textContent = api.percent(item.probability);
    meta.append(chip, prob);
    li.append(link, meta);
    return li;
  }

  function markSaved(on) {
    els.bookmark.textContent = on ? "★ Saved" : "☆ Save market";
    els.bookmark.setAttribute("aria-pressed", String(on));
  }

  async function send(type, metadata) {
    await api.track([api.interaction(type, marketId, { ...context, metadata })]);
  }

  // ----- actions ----------------------------------------------------------------------

  for (const button of els.sides) {
    button.addEventListener("click", () => {
      side = button.dataset.side;
      for (const other of els.sides) other.setAttribute("aria-pressed", String(other === button));
      els.place.disabled = false;
      els.place.textContent = `Bet on ${side === "yes" ? "Yes" : "No"}`;
      if (!intentSent) {
        intentSent = true; // choosing a side is intent; placing the bet is participation
        send("participate_intent", { side }).catch(() => {});
      }
    });
  }

  els.place.addEventListener("click", async () => {
    const amount = Math.round(Number(els.amount.value));
    if (!side || !(amount >= 1 && amount <= 10000)) {
      els.betStatus.textContent = "Choose Yes or No and an amount between $1 and $10,000.";
      return;
    }
    const price = side === "yes" ? market.probability : 1 - market.probability;
    els.place.disabled = true;
    try {
      await send("participate", { side, amount, price: Math.round(price * 100) / 100, simulated: true });
      els.betStatus.textContent =
        `Simulated bet placed: $${amount} on ${side === "yes" ? "Yes" : "No"} at ${Math.round(price * 100)}¢. ` +
        "Your feed will lean toward markets like this one.";
      els.betStatus.className = "small ok";
    } catch (error) {
      els.betStatus.textContent = `Could not place the bet (${error.message}).`;
      els.place.disabled = false;
    }
  });

  els.bookmark.addEventListener("click", async () => {
    if (api.saved.has(marketId)) { // off the Saved list of this browser; the API has no "unsave"
      api.saved.remove(marketId);
      markSaved(false);
      return;
    }
    api.saved.add(marketId, market ? market.title : "");
    markSaved(true);
    try {
      await send("bookmark");
    } catch (error) {
      els.betStatus.textContent = `Could not save the market (${error.message}).`;
    }
  });

  // ----- start ------------------------------------------------------------------------

  api.getJSON(`/api/markets/${encodeURIComponent(marketId)}`)
    .then((m) => {
      market = m;
      render(m);
      els.status.hidden = true;
      document.body.dataset.state = "ready";
      loadRelated(m);
    })
    .catch((error) => {
      els.status.textContent = error.status === 404
        ? "This market does not exist (any more)."
        : `Could not load the market (${error.message}).`;
      els.status.className = "status error";
      document.body.dataset.state = "error";
    });
})();
