// The promise countdown ticks on the phone. The page is complete without this file: the
// server writes the same text; this only keeps it current. Formats come from data-* (the
// page's language).
(function () {
  "use strict";
  var el = document.getElementById("countdown");
  if (!el || !el.dataset.due) return;
  var due = new Date(el.dataset.due).getTime();
  if (isNaN(due)) return;
  var d = el.dataset;

  function fill(fmt, v) {
    return fmt.replace(/%\((\w)\)d/g, function (_m, k) { return String(v[k]); });
  }
  function span(seconds) {
    var s = Math.abs(Math.floor(seconds));
    var days = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60);
    if (days) return fill(d.dh, {d: days, h: h});
    if (h) return fill(d.hm, {h: h, m: m});
    return fill(d.m, {m: s ? Math.max(m, 1) : 0});
  }
  function tick() {
    var left = (due - Date.now()) / 1000;
    var late = left < 0;
    el.textContent = (late ? d.late : d.left).replace("%(t)s", span(left));
    el.className = late ? "late" : "ok";
  }
  tick();
  setInterval(tick, 15000);
})();
