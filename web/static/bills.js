/* Fee bills turn "paid" without a reload: the server sends the bills' states (event "bill"). ES5. */
(function () {
  "use strict";
  var root = document.querySelector("[data-bill-stream]");
  if (!root || !window.EventSource) { return; }
  var words = { paid: root.getAttribute("data-paid-text"), partly_paid: root.getAttribute("data-partly-text") };

  function set(scope, field, text) {
    var el = scope.querySelector("[data-field=" + field + "]");
    if (el && text !== undefined && text !== null) { el.textContent = text; }
  }

  function update(bill) {
    var item = root.querySelector("[data-bill='" + bill.number + "']");
    if (!item || item.getAttribute("data-state") === bill.state) { return; }
    item.setAttribute("data-state", bill.state);
    set(item, "state", bill.label);
    set(item, "paid", bill.paid_text);
    set(item, "owed", bill.owed_text);
    var notice = item.querySelector("[data-field=notice]");
    if (notice && words[bill.state]) {
      notice.textContent = bill.state === "paid" ? words.paid : words.partly_paid + " " + bill.owed_text;
      notice.hidden = false;
    }
    var pay = item.querySelector("[data-field=pay]");
    if (pay && !bill.payload) { pay.hidden = true; }
    var img = pay && bill.payload ? pay.querySelector("img") : null;
    if (img) {  // the QR now asks for what is still owed
      img.src = img.getAttribute("src").split("?")[0] + "?paid=" + bill.paid;
    }
  }

  var source = new EventSource(root.getAttribute("data-bill-stream"));
  source.addEventListener("bill", function (event) {
    var bills = JSON.parse(event.data);
    for (var i = 0; i < bills.length; i++) { update(bills[i]); }
  });
})();
