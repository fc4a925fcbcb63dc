// Report form helpers. The form works without this file; this only makes it quicker.
(function () {
  "use strict";
  var form = document.getElementById("report");
  if (!form) return;
  var radios = form.querySelectorAll('input[name="category"]');
  var other = document.getElementById("id_category_other");
  var phone = document.getElementById("id_customer_phone");
  var box = document.getElementById("repeat-box");
  var hint = document.getElementById("urgency-hint");
  var T = form.dataset;

  function category() {
    if (other.value) return other.options[other.selectedIndex];
    for (var i = 0; i < radios.length; i++) if (radios[i].checked) return radios[i];
    return null;
  }
  function update() {
    var c = category();
    if (c && hint) hint.textContent = c.dataset.urgent ? T.urgent : T.general;
    checkRepeat();
  }
  // Only the answer to the newest question may touch the box: answers can overtake each other.
  var last = "", asked = 0;
  function checkRepeat() {
    var c = category(), p = phone.value.replace(/\s/g, "");
    if (!c || p.length < 7) { asked++; box.hidden = true; last = ""; return; }
    var q = "?phone=" + encodeURIComponent(p) + "&category=" + encodeURIComponent(c.value);
    if (q === last) return;
    last = q;
    var mine = ++asked;
    fetch(T.repeatUrl + q, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (d) {
        if (mine !== asked) return;
        if (!d.repeat) { box.hidden = true; return; }
        box.textContent = d.message + " ";
        if (d.url) {
          var a = document.createElement("a");
          a.href = d.url; a.textContent = T.seeEarlier; box.appendChild(a);
        }
        box.hidden = false;
      }).catch(function () { if (mine === asked) last = ""; });
  }
  for (var i = 0; i < radios.length; i++) radios[i].addEventListener("change", function () {
    other.value = ""; update();
  });
  other.addEventListener("change", function () {
    if (other.value) for (var j = 0; j < radios.length; j++) radios[j].checked = false;
    update();
  });
  // Warn while the number is being typed (the box sits right under the field), not only when
  // the reporter has moved on down the form.
  var typing = null;
  phone.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(checkRepeat, 300);
  });
  phone.addEventListener("blur", checkRepeat);

  // Searchable category list.
  var filter = document.getElementById("cat-filter");
  filter.hidden = false;
  filter.addEventListener("input", function () {
    var q = filter.value.trim().toLowerCase();
    for (var k = 1; k < other.options.length; k++) {
      var o = other.options[k];
      o.hidden = q && o.text.toLowerCase().indexOf(q) < 0;
    }
  });

  // Photos: list the chosen names, shrink big ones before upload.
  var input = document.getElementById("id_photos");
  var names = document.getElementById("photo-names");
  var MAX = 1600;
  function show(files) {
    names.textContent = "";
    for (var n = 0; n < files.length; n++) {
      var li = document.createElement("li");
      li.textContent = files[n].name + " (" + Math.round(files[n].size / 1024) + " KB)";
      names.appendChild(li);
    }
  }
  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < 300 * 1024 || !window.createImageBitmap) {
        return resolve(file);
      }
      createImageBitmap(file).then(function (img) {
        var s = Math.min(1, MAX / Math.max(img.width, img.height));
        var c = document.createElement("canvas");
        c.width = Math.round(img.width * s); c.height = Math.round(img.height * s);
        c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
        c.toBlob(function (b) {
          if (!b || b.size >= file.size) return resolve(file);
          resolve(new File([b], file.name.replace(/\.\w+$/, "") + ".jpg", {type: "image/jpeg"}));
        }, "image/jpeg", 0.8);
      }).catch(function () { resolve(file); });
    });
  }
  var shrinking = null;
  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files);
    show(files);
    delete input.dataset.ready;
    if (!window.DataTransfer || !window.Promise) return;
    shrinking = Promise.all(files.map(shrink)).then(function (out) {
      try {
        var dt = new DataTransfer();
        out.forEach(function (f) { dt.items.add(f); });
        input.files = dt.files;
        show(out);
      } catch (e) { /* keep the originals */ }
      shrinking = null;
      input.dataset.ready = "1";
    });
  });

  // Optional location.
  var locate = document.getElementById("locate");
  var status = document.getElementById("locate-status");
  if (navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = T.locating;
      navigator.geolocation.getCurrentPosition(function (p) {
        document.getElementById("id_latitude").value = p.coords.latitude.toFixed(6);
        document.getElementById("id_longitude").value = p.coords.longitude.toFixed(6);
        status.textContent = T.located;
        form.dispatchEvent(new Event("located"));  // the fault hint checks the new place
      }, function () { status.textContent = T.noLocation; }, {timeout: 10000, maximumAge: 60000});
    });
  }

  // One tap is enough: the server already turns repeats into one order; this just says so.
  var sent = false;
  form.addEventListener("submit", function (e) {
    if (sent) { e.preventDefault(); return; }
    sent = true;
    if (shrinking) {
      // Send the shrunk photos, not the originals: wait for them, then submit.
      e.preventDefault();
      shrinking.then(function () { form.submit(); });
    }
    var b = document.getElementById("submit");
    b.textContent = T.sending;
    b.setAttribute("aria-busy", "true");
  });
  window.addEventListener("pageshow", function () { sent = false; });
  update();
})();
