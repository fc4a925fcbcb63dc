// The phone's outbox of reports (吹哨) kept while there was no network: IndexedDB, one entry
// per report form, keyed by the form's one-time key (form_key), so saving the same form twice
// keeps one entry and sending it twice makes one order (the server's key). Loaded by the
// pages (web/offline.js) and by the service worker (/sw.js); no page-only API here.
(function (root) {
  "use strict";
  var DB = "whistle-outbox", STORE = "reports";

  function open() {
    return new Promise(function (resolve, reject) {
      var req = root.indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, {keyPath: "key"}); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function run(mode, fn) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), req = fn(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); resolve(req ? req.result : undefined); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }
  // Files are copied into the entry (bytes, name, type): a picked file may be gone later.
  function fields(formData) {
    var pending = [];
    formData.forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken") return;  // a fresh one is fetched when sending
      if (typeof value === "string") { pending.push(Promise.resolve([name, value])); return; }
      if (!value.size && !value.name) return;  // an empty file input
      pending.push(value.arrayBuffer().then(function (buf) {
        return [name, {file: true, name: value.name, type: value.type, bytes: buf}];
      }));
    });
    return Promise.all(pending);
  }

  root.WhistleOutbox = {
    // Keep a submitted report; `at` (ms) is when the reporter pressed submit (发现时间).
    save: function (formData, at) {
      return fields(formData).then(function (list) {
        var key = "", user = "";
        list.forEach(function (f) {
          if (f[0] === "form_key") key = f[1];
          if (f[0] === "outbox_user") user = f[1];
        });
        if (!key) throw new Error("no form key");
        var entry = {key: key, user: user, at: at, fields: list};
        return run("readwrite", function (s) { return s.put(entry); }).then(function () { return entry; });
      });
    },
    all: function () { return run("readonly", function (s) { return s.getAll(); }); },
    remove: function (key) { return run("readwrite", function (s) { return s.delete(key); }); },
    // The entry as a form body again, with the capture time as found_at.
    formData: function (entry, csrf) {
      var fd = new FormData();
      entry.fields.forEach(function (f) {
        if (f[0] === "found_at") return;
        if (f[1] && f[1].file) {
          fd.append(f[0], new File([f[1].bytes], f[1].name, {type: f[1].type}));
        } else {
          fd.append(f[0], f[1]);
        }
      });
      fd.append("found_at", new Date(entry.at).toISOString());
      fd.append("csrfmiddlewaretoken", csrf);
      return fd;
    }
  };
})(self);
