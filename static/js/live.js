/*
 * Live updates for the signed-in member (the server side: notifications/live.py).
 *
 * base.html loads it with data-live-url (the event stream) and data-live-since (when
 * the page was rendered) on its <script> tag. An EventSource listens there. On "changed", or on the first
 * event ("hello") when it says something changed since the page or the last event,
 * every [data-live-refresh] element re-fetches its hx-get through htmx (an element
 * whose <details> menu is open waits until it closes). Each event carries the number
 * of the member's open offers, which prefixes document.title: "(2) My offers · …".
 * <body data-live> says "up" or "down".
 *
 * The elements' own htmx polling stays the fallback: while the stream is down it runs
 * as written; while it is up, a poll goes out only when the element has not been
 * fetched for SLOW_POLL_MS. The browser reconnects by itself after a dropped stream
 * (the server ends each one after a few minutes); after a refused one (an error
 * answer) this script reconnects, backing off.
 *
 * An element with data-live-merge (the offer list) is merged instead of swapped when
 * a GET refresh comes back: rows new in the answer ([data-live-rows] > [data-offer]
 * with an id) come in where the server put them, rows missing from it fade out and go
 * after LEAVE_MS (a Claim clicked meanwhile still gets its answer in their place),
 * anything else in the rows container (claim answers) stays, and [data-live-sync]
 * elements are replaced by the answer's.
 */
(function () {
  "use strict";

  var SLOW_POLL_MS = 120000;
  var LEAVE_MS = 1500;
  var RETRY_MIN_MS = 2000;
  var RETRY_MAX_MS = 60000;
  var COUNT_PREFIX = /^\(\d+\) /;

  var script = document.currentScript;
  var body = document.body;
  var url = script && script.dataset.liveUrl;
  var lastId = (script && script.dataset.liveSince) || "";
  var up = false;
  var retryMs = RETRY_MIN_MS;
  var fetchedAt = new WeakMap();
  var rendered = document.querySelectorAll("[data-live-refresh]");
  for (var r = 0; r < rendered.length; r++) fetchedAt.set(rendered[r], Date.now());

  // --- polling as the fallback ---------------------------------------------------------

  document.addEventListener("htmx:beforeRequest", function (evt) {
    fetchedAt.set(evt.detail.elt, Date.now());
  });

  // A poll has no triggering event; live refreshes and countdown-ended have one.
  document.addEventListener("htmx:confirm", function (evt) {
    var elt = evt.detail.elt;
    if (!up || evt.detail.triggeringEvent || !elt.hasAttribute("data-live-refresh")) return;
    if (Date.now() - (fetchedAt.get(elt) || 0) < SLOW_POLL_MS) evt.preventDefault();
  });

  // --- refreshing --------------------------------------------------------------------------

  function refreshOne(elt) {
    if (elt.querySelector("details[open]")) {
      elt.dataset.livePending = "1";
      return;
    }
    delete elt.dataset.livePending;
    var path = elt.getAttribute("hx-get");
    if (!path || !window.htmx) return;
    window.htmx.ajax("GET", path, { source: elt, event: new CustomEvent("live-changed") });
  }

  function refresh() {
    var elts = document.querySelectorAll("[data-live-refresh]");
    for (var i = 0; i < elts.length; i++) refreshOne(elts[i]);
  }

  document.addEventListener(
    "toggle",
    function (evt) {
      var box = evt.target.closest && evt.target.closest("[data-live-refresh]");
      if (box && !evt.target.open && box.dataset.livePending) refreshOne(box);
    },
    true
  );

  // --- merging the offer list ------------------------------------------------------------

  function gone(row) {
    if (!row.isConnected || !row.dataset.leaving) return;
    if (row.querySelector(".htmx-request")) {
      // A Claim is on its way: its answer takes the row's place.
      window.setTimeout(function () { gone(row); }, 250);
      return;
    }
    row.remove();
  }

  function leave(row) {
    row.dataset.leaving = "1";
    row.classList.add("offer-closed");
    row.style.transition = "opacity " + LEAVE_MS + "ms";
    row.style.opacity = "0.35";
    var note = row.querySelector(".offer-note");
    if (note) note.textContent = "No longer open: claimed, or moved on.";
    window.setTimeout(function () { gone(row); }, LEAVE_MS);
  }

  function merge(list, fresh) {
    var box = list.querySelector("[data-live-rows]");
    var syncs = fresh.querySelectorAll("[data-live-sync][id]");
    for (var i = 0; i < syncs.length; i++) {
      var old = document.getElementById(syncs[i].id);
      if (old && list.contains(old)) old.replaceWith(document.importNode(syncs[i], true));
    }
    var rows = fresh.querySelectorAll("[data-live-rows] > [data-offer][id]");
    var wanted = {};
    for (i = 0; i < rows.length; i++) wanted[rows[i].id] = true;
    var current = box.querySelectorAll(":scope > [data-offer][id]");
    for (i = 0; i < current.length; i++) {
      if (!wanted[current[i].id] && !current[i].dataset.leaving) leave(current[i]);
    }
    var prev = null;
    var added = [];
    for (i = 0; i < rows.length; i++) {
      var mine = box.querySelector(":scope > [data-offer]#" + CSS.escape(rows[i].id));
      if (mine && !mine.dataset.leaving) {
        prev = mine;
        continue;
      }
      var node = document.importNode(rows[i], true);
      if (mine) mine.replaceWith(node);
      else if (prev) prev.after(node);
      else box.insertBefore(node, box.querySelector(":scope > [data-offer]"));
      prev = node;
      added.push(node);
    }
    for (i = 0; i < added.length; i++) window.htmx.process(added[i]);
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    var d = evt.detail;
    var target = d.target;
    if (!target || !target.hasAttribute || !target.hasAttribute("data-live-merge")) return;
    if (!d.requestConfig || d.requestConfig.verb !== "get" || d.xhr.status !== 200) return;
    if (!target.querySelector("[data-live-rows]")) return;
    var doc = new DOMParser().parseFromString(d.serverResponse, "text/html");
    var fresh = doc.getElementById(target.id);
    if (!fresh || !fresh.querySelector("[data-live-rows]")) return;
    d.shouldSwap = false;
    merge(target, fresh);
  });

  // --- the stream ------------------------------------------------------------------------

  function setTitle(count) {
    var base = document.title.replace(COUNT_PREFIX, "");
    var title = count > 0 ? "(" + count + ") " + base : base;
    if (document.title !== title) document.title = title;
  }

  function setUp(value) {
    up = value;
    body.dataset.live = value ? "up" : "down";
  }

  function read(evt) {
    if (evt.lastEventId) lastId = evt.lastEventId;
    var data;
    try {
      data = JSON.parse(evt.data);
    } catch (e) {
      return {};
    }
    if (typeof data.offers === "number") setTitle(data.offers);
    return data;
  }

  function connect() {
    var glue = url.indexOf("?") < 0 ? "?" : "&";
    var source = new EventSource(url + glue + "since=" + encodeURIComponent(lastId));
    source.addEventListener("hello", function (evt) {
      setUp(true);
      retryMs = RETRY_MIN_MS;
      if (read(evt).changed) refresh();
    });
    source.addEventListener("changed", function (evt) {
      read(evt);
      refresh();
    });
    source.onerror = function () {
      setUp(false);
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    };
  }

  if (url && window.EventSource) connect();
})();
