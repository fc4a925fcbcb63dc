// Starts Redoc on /api/redoc/. Redoc puts its styles into <style> elements; the page's
// Content-Security-Policy accepts them with the nonce this script element carries.
(function () {
  "use strict";
  var box = document.getElementById("redoc-container");
  var options = JSON.parse(box.dataset.settings || "{}");
  options.nonce = document.currentScript.nonce;
  Redoc.init(box.dataset.specUrl, options, box);
})();
