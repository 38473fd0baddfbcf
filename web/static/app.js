/* market40: small improvements on top of pages that work without JavaScript. */
(function () {
  "use strict";

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[đĐ]/g, "d").toLowerCase().replace(/[^0-9a-z]+/g, " ").trim();
  }

  /* Bank picker: a filter box above the <select>, matching names typed without diacritics. */
  function bankPicker(select) {
    var box = document.getElementById(select.getAttribute("data-filter"));
    if (!box) { return; }
    var input = box.querySelector("input");
    var count = box.querySelector("[data-count]");
    box.hidden = false;
    var options = Array.prototype.slice.call(select.querySelectorAll("option[data-key]"));
    var picking = !select.value;
    select.addEventListener("input", function () { picking = false; });
    input.addEventListener("input", function () {
      var words = fold(input.value).split(" ").filter(Boolean);
      var first = null, named = null, shown = 0;
      function matches(key) {
        key = " " + (key || "");
        return words.every(function (w) { return key.indexOf(" " + w) !== -1 || key.indexOf(w) !== -1; });
      }
      options.forEach(function (option) {
        var match = matches(option.getAttribute("data-key"));
        option.hidden = !match;
        option.disabled = !match;
        if (match) {
          shown += 1;
          if (!first) { first = option; }
          /* a match on what the bank is called beats one inside another bank's full name */
          if (!named && matches(option.getAttribute("data-names"))) { named = option; }
        }
      });
      first = named || first;
      var selected = select.options[select.selectedIndex];
      /* follow the best match while typing, unless the owner picked a bank by hand */
      if (first && (picking || !selected || selected.hidden || !selected.value) && first !== selected) {
        first.selected = true;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      if (count) { count.textContent = count.getAttribute("data-template").replace("{n}", shown); }
    });
  }

  /* Preview: ask the server for the poster picture without reloading the page. */
  function preview(form) {
    var url = form.getAttribute("data-preview-url");
    var button = form.querySelector("button[value=preview]");
    var section = document.getElementById("live-preview");
    var image = document.getElementById("live-preview-image");
    if (!url || !button || !section || !image) { return; }
    var timer = null, busy = false, fallback = false, lastUrl = null;

    function ready() {
      return ["bank", "number", "holder_name"].every(function (name) {
        var field = form.elements[name];
        return field && field.value.trim() !== "";
      });
    }

    function load(showErrors) {
      if (busy) { return; }
      busy = true;
      var data = new FormData(form);
      data.set("action", "preview");
      fetch(url, { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
        busy = false;
        if (response.ok) {
          return response.blob().then(function (blob) {
            if (lastUrl) { URL.revokeObjectURL(lastUrl); }
            lastUrl = URL.createObjectURL(blob);
            image.src = lastUrl;
            section.hidden = false;
            if (showErrors) { section.scrollIntoView({ behavior: "smooth", block: "start" }); }
          });
        }
        if (showErrors) {  /* let the server show its Vietnamese errors beside each field */
          fallback = true;
          form.requestSubmit(button);
        }
      }).catch(function () {
        busy = false;
        if (showErrors) { fallback = true; form.requestSubmit(button); }
      });
    }

    button.addEventListener("click", function (event) {
      if (fallback) { return; }
      var photo = form.querySelector("input[type=file]");
      if (photo && photo.files && photo.files.length) { return; }  /* the server reads the photo */
      event.preventDefault();
      load(true);
    });
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { if (ready()) { load(false); } }, 700);
    });
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { if (ready()) { load(false); } }, 300);
    });
  }

  /* Ask once more before actions that cannot be undone. */
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  /* Move focus to the error summary so screen readers announce it. */
  function focusErrors() {
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
  }

  /* Print buttons (a page prints without them through the browser's menu). */
  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  /* Enrolment: choosing the market fills the stall picker at once (without JS: a second step). */
  function stallPicker(input) {
    var market = document.getElementById("f-market");
    var list = document.getElementById(input.getAttribute("list"));
    var step = document.querySelector("[data-market-step]");
    if (!market || !list || !window.fetch) { return; }
    if (step) { step.hidden = true; step.style.display = "none"; }
    market.addEventListener("change", function () {
      list.innerHTML = "";
      if (!market.value) { return; }
      fetch(input.getAttribute("data-stalls-url") + "?market=" + encodeURIComponent(market.value),
            {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {stalls: []}; })
        .then(function (data) {
          data.stalls.forEach(function (s) {
            var option = document.createElement("option");
            option.value = s.code;
            option.textContent = s.shop ? s.code + " — " + s.shop : s.code;
            list.appendChild(option);
          });
          // on to the stall code, unless the owner has moved on already (a slow network: focus taken
          // back mid-typing sent the next field's text into the stall code)
          if (document.activeElement === market || document.activeElement === document.body) { input.focus(); }
        });
    });
  }

  /* The review queue from the keyboard: j/k move, x selects, Enter opens, v verifies the selection. */
  function reviewQueue(form) {
    var rows = Array.prototype.slice.call(form.querySelectorAll("tr[data-row]"));
    var all = document.getElementById("select-all");
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        rows.forEach(function (row) { row.querySelector("input[type=checkbox]").checked = all.checked; });
      });
    }
    function at() {
      var active = document.activeElement;
      for (var i = 0; i < rows.length; i++) { if (rows[i].contains(active)) { return i; } }
      return -1;
    }
    document.addEventListener("keydown", function (event) {
      var tag = (event.target.tagName || "").toLowerCase();
      if (event.ctrlKey || event.metaKey || event.altKey || tag === "select" || tag === "textarea" ||
          (tag === "input" && event.target.type !== "checkbox")) { return; }
      var i = at();
      if (event.key === "j" || event.key === "k") {
        var next = Math.min(rows.length - 1, Math.max(0, i + (event.key === "j" ? 1 : -1)));
        if (i === -1) { next = 0; }
        rows[next].querySelector("input[type=checkbox]").focus();
        event.preventDefault();
      } else if (event.key === "x" && i >= 0) {
        var box = rows[i].querySelector("input[type=checkbox]");
        box.checked = !box.checked;
        event.preventDefault();
      } else if (event.key === "Enter" && i >= 0 && event.target.type === "checkbox") {
        window.location = rows[i].querySelector("a").href;
        event.preventDefault();
      } else if (event.key === "v") {
        form.requestSubmit ? form.requestSubmit() : form.submit();
        event.preventDefault();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-queue]").forEach(reviewQueue);
    printButtons();
    document.querySelectorAll("input[data-stalls-url]").forEach(stallPicker);
    document.querySelectorAll("select[data-filter]").forEach(bankPicker);
    document.querySelectorAll("form[data-preview-url]").forEach(preview);
    confirmations();
    focusErrors();
  });
})();
