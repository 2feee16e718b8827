/*
 * Live countdowns for claim windows.
 *
 * Every <time datetime="…" data-countdown> element shows the time left until
 * its datetime, updated every second. The server renders the same text, so the
 * page reads correctly without JavaScript. A container's data-server-now (the
 * server's clock when it rendered) corrects a browser clock that is off.
 * Elements added later (htmx swaps) are picked up on the next tick.
 * When a countdown reaches zero the row gets the "offer-closed" class and the
 * nearest [hx-trigger*="countdown-ended"] element is told, once, to refresh.
 */
(function () {
  "use strict";

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // Mirrors routing.selectors_pages.countdown_text.
  function format(left) {
    if (left <= 0) return "Claim window closed";
    var hours = Math.floor(left / 3600);
    var minutes = Math.floor((left % 3600) / 60);
    var seconds = left % 60;
    if (hours) return hours + " h " + pad(minutes) + " min left";
    if (minutes) return minutes + " min " + pad(seconds) + " s left";
    return seconds + " s left";
  }

  // Milliseconds to add to the browser's clock to get the server's.
  function skew(el) {
    var box = el.closest("[data-server-now]");
    if (!box) return 0;
    if (box.dataset.skew === undefined) {
      var server = Date.parse(box.dataset.serverNow);
      box.dataset.skew = isNaN(server) ? "0" : String(server - Date.now());
    }
    return Number(box.dataset.skew) || 0;
  }

  function ended(el) {
    var row = el.closest("[data-offer]");
    if (row) row.classList.add("offer-closed");
    if (el.dataset.ended) return;
    el.dataset.ended = "1";
    var list = el.closest('[hx-trigger*="countdown-ended"]');
    if (list && window.htmx) window.htmx.trigger(list, "countdown-ended");
  }

  function tick() {
    var now = Date.now();
    var clocks = document.querySelectorAll("time[data-countdown]");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var deadline = Date.parse(el.getAttribute("datetime"));
      if (isNaN(deadline)) continue;
      var left = Math.ceil((deadline - (now + skew(el))) / 1000);
      var text = format(left);
      if (el.textContent !== text) el.textContent = text;
      if (left <= 0) ended(el);
    }
  }

  function start() {
    tick();
    window.setInterval(tick, 1000);
    document.addEventListener("htmx:afterSwap", tick);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
