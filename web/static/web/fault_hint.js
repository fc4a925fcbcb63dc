// Mass-fault hint on the report form: when the category and the area (region, or the attached
// location) match an open fault, say so before submit and let the reporter untick "related".
// Without this file the server shows the same hint when it re-renders the form, and links a
// matching report on submit.
(function () {
  "use strict";
  var form = document.getElementById("report");
  var box = document.getElementById("fault-box");
  if (!form || !box || !window.fetch) return;
  var text = document.getElementById("fault-text");
  var shown = document.getElementById("id_fault_shown");
  var related = document.getElementById("id_fault_related");
  var region = document.getElementById("id_customer_region");
  var other = document.getElementById("id_category_other");
  var radios = form.querySelectorAll('input[name="category"]');

  function category() {
    if (other && other.value) return other.value;
    for (var i = 0; i < radios.length; i++) if (radios[i].checked) return radios[i].value;
    return "";
  }
  // Answers can come back out of order (category chosen, then the area typed: two requests in
  // flight); only the answer to the newest question may touch the box.
  var last = "", asked = 0;
  function check() {
    var c = category();
    if (!c) { asked++; last = ""; box.hidden = true; shown.value = ""; return; }
    var q = "?category=" + encodeURIComponent(c) +
      "&region=" + encodeURIComponent(region ? region.value.trim() : "") +
      "&lat=" + encodeURIComponent(document.getElementById("id_latitude").value) +
      "&lng=" + encodeURIComponent(document.getElementById("id_longitude").value);
    if (q === last) return;
    last = q;
    var mine = ++asked;
    fetch(form.dataset.faultUrl + q, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (d) {
        if (mine !== asked) return;
        if (!d.fault) { box.hidden = true; shown.value = ""; return; }
        if (shown.value !== d.number) related.checked = true;  // a new hint starts ticked
        text.textContent = d.message;
        shown.value = d.number;
        box.hidden = false;
      }).catch(function () { if (mine === asked) last = ""; });  // ask again next time
  }
  for (var i = 0; i < radios.length; i++) radios[i].addEventListener("change", check);
  if (other) other.addEventListener("change", check);
  if (region) { region.addEventListener("change", check); region.addEventListener("blur", check); }
  form.addEventListener("located", check);
  check();
})();
