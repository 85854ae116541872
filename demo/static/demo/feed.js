/* The feed page: renders GET /api/feed, reports impressions of the cards the visitor
 * actually saw, and the clicks, saves and hides, then shows how the feed reacts. */
(function () {
  "use strict";

  const api = window.DemoApi;
  const LIMIT = 20;
  const GEO_KEY = "demo.geo";

  const POOLS = {
    personal: ["Personal pick",
      "Ranked by how well it matches what you opened, saved and bet on (this session weighs most), " +
      "how fresh it is and how much it is trading."],
    followup: ["Follow-up",
      "You showed interest in this market and its odds or volume moved enough to show it again."],
    trending_local: ["Local trending", "One of the fastest-moving markets among people in your country."],
    trending_global: ["Global trending", "One of the fastest-moving markets on the site right now."],
    exploration: ["Exploration",
      "A lively market from a topic you have not shown interest in yet, so the feed can learn more about you."],
    editorial: ["Editorial", "Our editors are featuring this market."],
  };

  /* What a reason's text says it is, which is what it is styled as: a personal-pool item that can
   * point to nothing the visitor did says "Popular right now" and looks like trending, not like a
   * personal pick. Follow-ups say what changed, in words of their own. */
  function reasonStyle(item) {
    const text = item.reason_text || "";
    if (item.reason === "followup") return "followup";
    if (/^(Because you|Based on your past activity|Similar to markets you)\b/.test(text)) return "personal";
    if (/^Trending (worldwide|in )/.test(text) || text === "Popular right now") return "trending";
    if (text.startsWith("Something new for you")) return "exploration";
    if (text === "Editor's pick") return "editorial";
    return "plain";
  }

  // A personal-pool item whose reason cites nothing the visitor did is explained as what it is.
  const UNPERSONAL = ["Popular pick",
    "Nothing you did points to this one yet: it is here because it is fresh and trading a lot. " +
    "Open, save or bet on markets and this slot follows you."];

  const $ = (selector, root = document) => root.querySelector(selector);
  const els = {
    status: $("#feed-status"), refresh: $("#refresh"), geo: $("#geo"),
    sections: { hero: $("#hero"), grid: $("#grid"), stream: $("#stream") }, tabs: $("#tabs"),
    card: $("#tpl-card"), gone: $("#tpl-gone"),
    saved: $("#saved"),
    topicsSession: $("#topics-session"), topicsLong: $("#topics-long"), recent: $("#recent"), visitor: $("#visitor"),
  };

  const titles = new Map(); // market_id -> title, for the activity list
  let geo = localStorage.getItem(GEO_KEY) || "";
  let feedCount = 0;
  // The category tab: "" is All (the home surface); the URL keeps it (?category=Sports), so a reload does too.
  let category = categoryOfUrl();

  function categoryOfUrl() {
    return new URLSearchParams(location.search).get("category") || "";
  }

  function surface() {
    return category ? "category" : "home";
  }

  function status(text, kind = "") {
    els.status.textContent = text;
    els.status.className = `status ${kind}`;
  }

  function setState(state) {
    document.body.dataset.state = state;
  }

  const impressions = new api.ImpressionTracker();

  // ----- cards ------------------------------------------------------------------------

  function context(item, feed) {
    return {
      section: item.section, position: item.position, feed_request_id: feed.feed_request_id,
      surface: feed.surface, country: geo,
    };
  }

  function marketUrl(item, feed) {
    const query = new URLSearchParams({
      section: item.section, position: String(item.position), feed_request_id: feed.feed_request_id,
    });
    if (feed.surface !== "home") query.set("surface", feed.surface);
    return `/markets/${encodeURIComponent(item.market_id)}?${query}`;
  }

  function components(table, values) {
    if (!values) return;
    const body = table.querySelector("tbody");
    for (const [name, value] of Object.entries(values)) {
      const row = document.createElement("tr");
      const label = document.createElement("th");
      const cell = document.createElement("td");
      label.textContent = name.replace(/_/g, " ");
      cell.textContent = Number(value).toFixed(3);
      if (name === "final") row.className = "final";
      row.append(label, cell);
      body.append(row);
    }
    table.hidden = false;
  }

  function card(item, feed) {
    const node = els.card.content.firstElementChild.cloneNode(true);
    const style = reasonStyle(item);
    Object.assign(node.dataset, {
      marketId: item.market_id, section: item.section, position: item.position,
      reason: item.reason, reasonStyle: style, category: item.category,
    });
    for (const label of item.tags || []) tagLabels.set(slug(label), label);
    const link = $(".card-link", node);
    link.href = marketUrl(item, feed);
    link.addEventListener("click", () => {
      impressions.recordNow(node);
      api.track([api.interaction("click", item.market_id, context(item, feed))], { leaving: true });
    });
    api.picture($(".card-media", node), item, { eager: item.section === "hero" });
    $(".reason", node).classList.add(`reason-${style}`);
    $(".reason-text", node).textContent = item.reason_text;
    $(".card-title", node).textContent = item.title;
    $(".category", node).textContent = item.category;
    $(".volume", node).textContent = `${api.money(item.volume_24h)} traded in 24 h`;
    api.odds($(".odds", node), item.probability);
    if (item.badge) { // a move of 5 points or more in 24 h: "▲ 12 pts today"
      const move = $(".move", node);
      move.textContent = item.badge;
      move.classList.add(item.odds_change_24h > 0 ? "move-up" : "move-down");
      move.hidden = false;
    }

    const [poolLabel, poolExplain] = item.reason === "personal" && style !== "personal"
      ? UNPERSONAL : POOLS[item.reason] || [item.reason, ""];
    $(".why-pool", node).textContent = poolLabel;
    $(".why-text", node).textContent = item.reason_text;
    $(".why-explain", node).textContent = poolExplain;
    components($(".components", node), item.components);

    markSaved($('[data-action="bookmark"]', node), api.saved.has(item.market_id));
    for (const button of node.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => act(button.dataset.action, item, feed, node, button));
    }
    return node;
  }

  function markSaved(button, on) {
    button.textContent = on ? "★ Saved" : "☆ Save";
    button.setAttribute("aria-pressed", String(on));
    button.title = on ? "Saved in this browser: click to take it off your Saved list" : "";
  }

  /* The Saved list in the side panel, and every Save button on the page, from localStorage. */
  function renderSaved() {
    const list = api.saved.list();
    if (!list.length) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "Nothing saved yet: ☆ Save a market to keep it here.";
      els.saved.replaceChildren(empty);
    } else {
      els.saved.replaceChildren(...list.map((entry) => {
        const li = document.createElement("li");
        li.dataset.marketId = entry.market_id;
        const link = document.createElement("a");
        link.href = `/markets/${encodeURIComponent(entry.market_id)}`;
        link.textContent = entry.title || titles.get(entry.market_id) || entry.market_id;
        const unsave = document.createElement("button");
        unsave.type = "button";
        unsave.className = "act unsave";
        unsave.textContent = "Unsave";
        unsave.setAttribute("aria-label", `Unsave ${link.textContent}`);
        unsave.addEventListener("click", () => {
          api.saved.remove(entry.market_id);
          renderSaved();
        });
        li.append(link, unsave);
        return li;
      }));
    }
    const ids = new Set(list.map((entry) => entry.market_id));
    for (const button of document.querySelectorAll('.card [data-action="bookmark"]')) {
      markSaved(button, ids.has(button.closest(".card").dataset.marketId));
    }
  }

  const GONE_TEXT = {
    hide: "Hidden. You won't see this market again.",
    not_interested: "Got it: you'll see fewer markets like this.",
  };

  async function act(action, item, feed, node, button) {
    const send = (type) => api.track([api.interaction(type, item.market_id, context(item, feed))]);
    impressions.recordNow(node);
    try {
      if (action === "bookmark") {
        if (api.saved.has(item.market_id)) { // unsaving is this browser's list only: no event says "unsave"
          api.saved.remove(item.market_id);
          renderSaved();
          return;
        }
        api.saved.add(item.market_id, item.title);
        renderSaved();
        await send("bookmark");
      } else {
        const gone = els.gone.content.firstElementChild.cloneNode(true);
        gone.dataset.marketId = item.market_id;
        gone.dataset.gone = action;
        $(".gone-text", gone).textContent = GONE_TEXT[action];
        impressions.forget(node);
        node.replaceWith(gone);
        if (action === "hide") {
          const undo = $(".undo", gone);
          undo.hidden = false;
          undo.addEventListener("click", async () => {
            gone.replaceWith(node);
            impressions.observe(node, item, feed.feed_request_id, feed.surface);
            await send("unhide");
            profileSoon();
          }, { once: true });
        }
        await send(action);
      }
      profileSoon();
    } catch (error) {
      status(`Could not record that (${error.message}). Please try again.`, "error");
    }
  }

  // ----- the feed -----------------------------------------------------------------------

  function render(feed) {
    impressions.forgetAll();
    for (const [name, container] of Object.entries(els.sections)) {
      const items = feed.sections[name] || [];
      const nodes = items.map((item) => card(item, feed));
      container.replaceChildren(...nodes);
      nodes.forEach((node, i) => impressions.observe(node, items[i], feed.feed_request_id, feed.surface));
      for (const item of items) titles.set(item.market_id, item.title);
    }
    renderSaved();
  }

  function summary(feed) {
    const items = ["hero", "grid", "stream"].flatMap((s) => feed.sections[s] || []);
    if (!items.length) {
      return category
        ? `Nothing to show in ${category} right now: no open market you have not seen recently.`
        : "Nothing new to show right now: you have seen every open market recently.";
    }
    const time = new Date(feed.generated_at).toLocaleTimeString();
    const where = category ? ` in ${category}` : "";
    const text = `${feedCount > 1 ? "New feed" : "Your feed"}${where} at ${time}: ${items.length} markets`;
    // Items ranked on the visitor's own interests say so ("Because you saved 3 Crypto markets").
    const yours = items.filter((it) => it.reason === "followup" || it.reason_text.startsWith("Because you"));
    if (!yours.length) return `${text}. Open, save or bet on a few markets, then refresh: the feed follows you.`;
    const counts = new Map();
    for (const it of yours) counts.set(it.category, (counts.get(it.category) || 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    return `${text}, ${yours.length} of them from your interests, mostly ${top}.`;
  }

  async function loadFeed() {
    setState("loading");
    els.refresh.disabled = true;
    status("Loading your feed…");
    try {
      await impressions.flush(); // what was seen counts before the next feed is ranked
      const query = new URLSearchParams({ surface: surface(), limit: String(LIMIT) });
      if (category) query.set("category", category);
      if (geo) query.set("country", geo);
      const feed = await api.getJSON(`/api/feed?${query}`);
      feedCount += 1;
      render(feed);
      Object.assign(document.body.dataset, {
        userKey: feed.user_key, feedRequestId: feed.feed_request_id, surface: feed.surface, category,
      });
      els.visitor.textContent = `Your visitor key: ${feed.user_key}`;
      status(summary(feed) + (feed.degraded ? " (Some inputs were unavailable: the feed may be less fresh.)" : ""));
      await loadProfile();
      // Ready once the side panel has caught up and Refresh works again (a test waits for this).
      els.refresh.disabled = false;
      setState("ready");
    } catch (error) {
      status(`Could not load the feed (${error.message}).`, "error");
      setState("error");
    } finally {
      els.refresh.disabled = false;
    }
  }

  // ----- what the feed knows ------------------------------------------------------------

  /* The profile's affinities in a visitor's words: the topic by its name (a tag by its label, not its
   * slug) and how strong the interest is, never the raw score. The thresholds are in the units of the
   * event weights (a save is 3.5, a bet 6, a hide −6; feedproject/vocabulary.py). */
  const tagLabels = new Map(); // tag slug -> label, from the tags of the cards shown

  function slug(label) {
    return label.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  function topicName(t) {
    if (t.topic_type !== "tag") return t.topic;
    if (tagLabels.has(t.topic)) return tagLabels.get(t.topic);
    // A tag no card has shown yet: its slug made readable ("us-elections" -> "US Elections").
    return t.topic.split("-").filter(Boolean)
      .map((w) => (w.length <= 2 ? w.toUpperCase() : w[0].toUpperCase() + w.slice(1))).join(" ");
  }

  function interestWord(value) {
    if (value >= 8) return "Strong interest";
    if (value >= 3) return "Interested";
    if (value > 0) return "Some interest";
    if (value <= -3) return "Not for you";
    return "Less interested";
  }

  function topicsShown(topics) {
    return topics.filter((t) => Math.abs(t.value) >= 0.05).slice(0, 6)
      .map((t) => ({ ...t, name: topicName(t), word: interestWord(t.value) }));
  }

  function topicList(list, shown, emptyText) {
    if (!shown.length) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = emptyText;
      list.replaceChildren(empty);
      return;
    }
    const max = Math.max(...shown.map((t) => Math.abs(t.value)));
    list.replaceChildren(...shown.map((t) => {
      const li = document.createElement("li");
      li.className = t.value < 0 ? "topic negative" : "topic";
      const name = document.createElement("span");
      name.className = "topic-name";
      name.textContent = t.name;
      const word = document.createElement("span");
      word.className = "topic-word";
      word.textContent = t.word;
      const bar = document.createElement("span");
      bar.className = "topic-bar";
      bar.style.width = `${Math.max(6, Math.round((Math.abs(t.value) / max) * 100))}%`;
      li.append(name, word, bar);
      return li;
    }));
  }

  /* This session's and the long-term lists; when they say the same (a first visit: every action is
   * this session's), one list, titled so. */
  function topicLists(affinities) {
    const session = topicsShown(affinities.session);
    const long = topicsShown(affinities.long);
    const said = (list) => JSON.stringify(list.map((t) => [t.topic_type, t.topic, t.word]));
    const same = said(session) === said(long);
    $("#topics-session-title").textContent = same ? "This session and long-term" : "This session";
    $("#topics-long-block").hidden = same;
    topicList(els.topicsSession, session, "Nothing yet: open, save or bet on a market.");
    topicList(els.topicsLong, long, "Nothing yet.");
  }

  const EVENT_WORDS = {
    click: "opened", view_market: "read", bookmark: "saved", participate: "bet on", participate_intent: "considered",
    hide: "hid", unhide: "unhid", not_interested: "not interested in", share: "shared", comment: "commented on",
  };

  function recentList(recent) {
    const rows = recent.filter((r) => r.event_type in EVENT_WORDS).slice(0, 8);
    if (!rows.length) return;
    els.recent.replaceChildren(...rows.map((r) => {
      const li = document.createElement("li");
      const verb = document.createElement("span");
      verb.className = `verb verb-${r.event_type}`;
      verb.textContent = EVENT_WORDS[r.event_type];
      const link = document.createElement("a");
      link.href = `/markets/${encodeURIComponent(r.market_id)}`;
      link.textContent = titles.get(r.market_id) || r.market_id;
      li.append(verb, " ", link);
      return li;
    }));
  }

  async function loadProfile() {
    try {
      const profile = await api.getJSON("/api/profile");
      topicLists(profile.affinities);
      recentList(profile.recent);
    } catch (error) {
      // The panel is informative only; the feed works without it.
    }
  }

  let profileTimer = null;
  function profileSoon() {
    clearTimeout(profileTimer);
    profileTimer = setTimeout(loadProfile, 300);
  }

  // ----- "Why am I seeing this?": a popover ---------------------------------------------

  /* Each card's <details class="why"> opens over the cards below it (CSS: position absolute), so
   * the grid row keeps its height. One is open at a time; Escape or a click elsewhere closes it. */
  function closeWhy(except) {
    for (const open of document.querySelectorAll("details.why[open]")) if (open !== except) open.open = false;
  }
  document.addEventListener("toggle", (event) => {
    if (event.target.matches && event.target.matches("details.why") && event.target.open) closeWhy(event.target);
  }, true);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeWhy(null); });
  document.addEventListener("click", (event) => { if (!event.target.closest("details.why")) closeWhy(null); });

  // ----- category tabs ------------------------------------------------------------------

  function tabFor(name) {
    const found = [...els.tabs.querySelectorAll(".tab")].find((tab) => tab.dataset.category === name);
    if (found) return found;
    // A category outside the taxonomy (an imported one kept as written), reached by its URL: a tab of its own.
    const tab = document.createElement("a");
    tab.className = "tab";
    tab.dataset.category = name;
    tab.href = `/?${new URLSearchParams({ category: name })}`;
    tab.textContent = name;
    els.tabs.append(tab);
    return tab;
  }

  function markTab() {
    const current = tabFor(category);
    for (const tab of els.tabs.querySelectorAll(".tab")) {
      if (tab === current) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
  }

  els.tabs.addEventListener("click", (event) => {
    const tab = event.target.closest(".tab");
    if (!tab || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault(); // the page stays; the URL and the feed change
    if (tab.dataset.category === category) return;
    category = tab.dataset.category;
    history.pushState(null, "", tab.href);
    markTab();
    window.scrollTo({ top: 0 });
    loadFeed();
  });
  window.addEventListener("popstate", () => {
    if (categoryOfUrl() === category) return;
    category = categoryOfUrl();
    markTab();
    loadFeed();
  });

  // ----- start ------------------------------------------------------------------------

  els.geo.value = geo;
  els.geo.addEventListener("change", () => {
    geo = els.geo.value;
    localStorage.setItem(GEO_KEY, geo);
    loadFeed();
  });
  els.refresh.addEventListener("click", () => {
    window.scrollTo({ top: 0 });
    loadFeed();
  });
  // Coming back with the back button may restore this page from the back/forward cache:
  // ask for a fresh feed, which knows what the visitor just did.
  window.addEventListener("pageshow", (event) => { if (event.persisted) loadFeed(); });
  // Saved or unsaved on another page of the site (a market page in another tab): the list follows.
  window.addEventListener("storage", (event) => { if (event.key === api.saved.key) renderSaved(); });
  markTab();
  renderSaved();
  loadFeed();
})();
