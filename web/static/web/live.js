// Lists that refresh themselves. A region marked data-live="<url>" is fetched again every
// 20 seconds while the page is visible, conditionally (If-None-Match with the ETag the page
// came with): 304 costs the server one query and changes nothing here; new content replaces
// only the region. A region holding a form the reader is using (focused or edited) is left
// alone until they are done. Without this file the page's 刷新 button does the same.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live]");
  if (!regions.length || !window.fetch) return;
  var EVERY = 20000;

  function busy(region) {
    var a = document.activeElement;
    if (a && a !== document.body && region.contains(a) && a.closest("form")) return true;
    return !!region.querySelector("form[data-dirty]");
  }
  function watch(region) {
    // Any input inside marks its form as in use.
    region.addEventListener("input", mark, true);
    region.addEventListener("change", mark, true);
  }
  function mark(e) {
    var f = e.target.closest && e.target.closest("form");
    if (f) f.setAttribute("data-dirty", "1");
  }
  function refresh(region) {
    if (document.hidden || busy(region)) return;
    var headers = {"X-Requested-With": "fetch"};
    if (region.dataset.etag) headers["If-None-Match"] = region.dataset.etag;
    fetch(region.dataset.live, {credentials: "same-origin", headers: headers, cache: "no-store"})
      .then(function (r) {
        if (r.status !== 200) return null;
        var etag = r.headers.get("ETag");
        return r.text().then(function (html) { return {etag: etag, html: html}; });
      })
      .then(function (d) {
        if (!d || busy(region)) return;
        region.innerHTML = d.html;
        if (d.etag) region.dataset.etag = d.etag;
        region.dispatchEvent(new CustomEvent("live:updated", {bubbles: true}));
      })
      .catch(function () { /* offline: try again next time */ });
  }
  Array.prototype.forEach.call(regions, function (region) {
    watch(region);
    setInterval(function () { refresh(region); }, Number(region.dataset.liveEvery) || EVERY);
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) Array.prototype.forEach.call(regions, refresh);
  });
})();
