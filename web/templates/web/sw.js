// Whistle's service worker (served by web.views.service_worker at /sw.js, scope "/").
// Keeps the report page (吹哨) and its static files so the page opens without network, and
// keeps a report whose submit failed for lack of network in the phone's outbox (IndexedDB,
// web/outbox.js); the pages send the outbox when the network is back (web/offline.js).
// Nothing else is cached: every other page and all data come from the server.
"use strict";
var CACHE = "whistle-{{ version }}";
var REPORT = "{{ report_url|escapejs }}";
var ASSETS = [{% for a in assets %}"{{ a|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];
importScripts("{{ outbox_url|escapejs }}");

function keepReportPage(cache) {
  // Logged-out visitors get a redirect to the login page: nothing is kept then.
  return fetch(REPORT, {credentials: "same-origin", redirect: "manual"}).then(function (r) {
    if (r.ok && r.type === "basic") return cache.put(REPORT, r);
  }).catch(function () {});
}

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS).then(function () { return keepReportPage(cache); });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) {
      return n.indexOf("whistle-") === 0 && n !== CACHE;
    }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (e) {
  // The pages say when the user logged out: the kept report page is theirs no more.
  if (e.data === "logout") e.waitUntil(caches.delete(CACHE));
});

self.addEventListener("fetch", function (e) {
  var req = e.request, url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "GET" && ASSETS.indexOf(url.pathname) >= 0) {
    e.respondWith(caches.match(url.pathname).then(function (hit) { return hit || fetch(req); }));
    return;
  }
  if (url.pathname !== REPORT || req.mode !== "navigate") return;
  if (req.method === "GET") {
    // Network first (a fresh form), the kept copy without network.
    e.respondWith(fetch(req).then(function (r) {
      if (r.ok && !r.redirected && url.search === "") {
        var copy = r.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(REPORT, copy); });
      }
      return r;
    }).catch(function () {
      return caches.match(REPORT).then(function (hit) {
        return hit || new Response("offline", {status: 503, headers: {"Content-Type": "text/plain"}});
      });
    }));
  } else if (req.method === "POST") {
    // The submit did not reach the server: keep it in the outbox and show the report page,
    // which says so. If it did reach the server and only the answer was lost, sending it again
    // later gives back the same order (the form's one-time key).
    var body = req.clone();
    var at = Date.now();
    e.respondWith(fetch(req).catch(function () {
      return body.formData().then(function (fd) { return self.WhistleOutbox.save(fd, at); })
        .then(function (entry) {
          return Response.redirect(REPORT + "?saved=" + encodeURIComponent(entry.key), 303);
        });
    }));
  }
});
