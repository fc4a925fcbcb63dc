// Offline-tolerant reporting (every page loads this). Registers the service worker (/sw.js,
// which keeps the report page for use without network); on the report page, a submit without
// network keeps the filled form and its photos in the phone's outbox (web/outbox.js) with the
// moment of the tap (发现时间) instead of losing them; whenever a page of this user is open
// and the network is there, the outbox is sent — each report once: the form's one-time key
// makes a second send return the first order. Without this file (or without script) the
// form posts as always.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.indexedDB || !window.Promise || !window.fetch) return;
  var USER = me.dataset.user, REPORT = me.dataset.report;
  if (me.dataset.sw && navigator.serviceWorker) {
    navigator.serviceWorker.register(me.dataset.sw).catch(function () {});
  }

  function script(src) {
    return new Promise(function (resolve, reject) {
      if (window.WhistleOutbox) return resolve();
      var s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = reject;
      document.head.appendChild(s);
    });
  }
  var ready = script(me.dataset.outbox);
  function mine() {
    return ready.then(function () { return WhistleOutbox.all(); }).then(function (all) {
      return all.filter(function (e) { return e.user === USER; });
    });
  }

  // ---------------------------------------------------------------- the report page
  var form = document.getElementById("report");
  var banner = document.getElementById("outbox");
  var W = banner ? banner.dataset : {};
  function fmt(tpl, t) { return tpl.replace("%(t)s", t); }
  function hhmm(ms) {
    var d = new Date(ms);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }
  function say(text) {
    if (!banner) return;
    banner.querySelector("[data-text]").textContent = text;
    banner.hidden = false;
  }
  function showQueue(list) {
    if (!banner) return;
    if (!list.length) { banner.hidden = true; return; }
    var last = list.reduce(function (a, b) { return a.at > b.at ? a : b; });
    say(W.saved + " " + fmt(W.found, hhmm(last.at)) + (list.length > 1 ? " " + fmt(W.count, list.length) : ""));
  }
  if (form) {
    var key = form.querySelector('input[name="form_key"]');
    // A page kept by the service worker carries the key of a report already in the outbox:
    // a new report needs a key of its own.
    mine().then(function (list) {
      showQueue(list);
      var used = list.some(function (e) { return e.key === key.value; });
      if (used && window.crypto && crypto.randomUUID) {
        key.value = crypto.randomUUID().replace(/-/g, "");
      }
    }).catch(function () {});

    form.addEventListener("submit", function (e) {
      if (navigator.onLine !== false) return;  // the service worker still catches a failure
      e.preventDefault();
      e.stopImmediatePropagation();  // not "sending…": nothing is sent now
      var at = Date.now();
      var photos = document.getElementById("id_photos");
      // Keep the photos as sent online: after the page's shrinking, if it is under way.
      var wait = photos && photos.files.length && !photos.dataset.ready
        ? new Promise(function (r) {
          var n = 0, t = setInterval(function () {
            if (photos.dataset.ready || ++n > 50) { clearInterval(t); r(); }
          }, 100);
        })
        : Promise.resolve();
      wait.then(function () { return ready; })
        .then(function () { return WhistleOutbox.save(new FormData(form), at); })
        .then(function () { return mine(); })
        .then(function (list) { showQueue(list); banner.focus(); })
        .catch(function () { say(W.failed); });
    }, true);
  }

  // ---------------------------------------------------------------- sending
  var sending = false;
  function csrfToken() {
    return fetch(REPORT, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      if (!r.ok || r.redirected) throw new Error("not logged in");
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var input = doc.querySelector('input[name="csrfmiddlewaretoken"]');
      if (!input) throw new Error("no token");
      return input.value;
    });
  }
  function sendOne(entry, csrf) {
    return fetch(REPORT, {
      method: "POST", credentials: "same-origin", body: WhistleOutbox.formData(entry, csrf)
    }).then(function (r) {
      if (r.ok && /\/orders\/[^/]+\/$/.test(new URL(r.url).pathname)) {
        return WhistleOutbox.remove(entry.key).then(function () { return {order: r.url}; });
      }
      if (r.status === 400) {
        // The server refused something (say, too old): it kept what was valid under the
        // form's key; show its form with the messages, and the outbox lets go.
        return r.text().then(function (html) {
          return WhistleOutbox.remove(entry.key).then(function () { return {page: html}; });
        });
      }
      return {};  // logged out, server trouble: keep it for the next try
    });
  }
  function sendAll() {
    if (sending || navigator.onLine === false) return;
    sending = true;
    mine().then(function (list) {
      if (!list.length) return null;
      if (banner) say(W.sending);
      list.sort(function (a, b) { return a.at - b.at; });
      return csrfToken().then(function (csrf) {
        var result = {};
        return list.reduce(function (p, entry) {
          return p.then(function () {
            return sendOne(entry, csrf).then(function (r) {
              if (r.page && !result.page) result.page = r.page;
              if (r.order) result.order = r.order;
            });
          });
        }, Promise.resolve()).then(function () { return result; });
      });
    }).then(function (result) {
      sending = false;
      if (!result) return;
      if (result.page) {
        // The refused report's form, as the server re-rendered it (its own scripts load again).
        history.replaceState(null, "", REPORT);
        document.open(); document.write(result.page); document.close();
      } else if (result.order) {
        location.assign(result.order);
      } else {
        mine().then(showQueue);
      }
    }).catch(function () {
      sending = false;
      mine().then(showQueue).catch(function () {});
    });
  }
  window.addEventListener("online", sendAll);
  sendAll();
  setInterval(sendAll, 30000);

  // Logging out: the kept report page belongs to this user only.
  var logout = document.querySelector('form[action$="/logout/"]');
  if (logout && navigator.serviceWorker && navigator.serviceWorker.controller) {
    logout.addEventListener("submit", function () {
      navigator.serviceWorker.controller.postMessage("logout");
    });
  }
})();
