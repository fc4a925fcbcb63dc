// Countdowns that tick. The server renders each one's text (the fallback without this file)
// and, for a running wall-clock countdown, its due moment as data-due (ms since 1970); this
// recomputes the text every second from the due moment, in the words the server uses
// (#countdown-words), and turns it red when it passes the due time (or data-risk).
// Working-time and paused countdowns carry no data-due and stay as rendered.
(function () {
  "use strict";
  var W = document.getElementById("countdown-words");
  if (!W) return;
  var D = W.dataset;
  // The phone's clock may be off: count from the server's clock at page load.
  var skew = D.now ? Number(D.now) - Date.now() : 0;

  function fill(tpl, v) {
    return tpl.replace(/%\((\w)\)d/g, function (_, k) { return String(v[k]); })
      .replace(/%\((\w)\)s/g, function (_, k) { return String(v[k]); });
  }
  // Same rounding as sla.display.duration_text: whole minutes, a part-minute counts as one.
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return fill(D.dh, {d: d, h: h});
    if (h) return fill(D.hm, {h: h, m: m});
    return fill(D.m, {m: s ? Math.max(m, 1) : 0});
  }
  function tick() {
    var now = Date.now() + skew;
    var els = document.querySelectorAll("[data-countdown][data-due]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], left = Number(el.dataset.due) - now;
      var over = left < 0;
      var text = fill(over ? D.over : D.left, {t: span(left)});
      if (el.textContent !== text) el.textContent = text;
      var late = over || (el.dataset.risk && Number(el.dataset.risk) <= now);
      if (late && !el.classList.contains("late")) {
        el.classList.remove("ok");
        el.classList.add("late");
      }
    }
  }
  tick();
  setInterval(tick, 1000);
})();
