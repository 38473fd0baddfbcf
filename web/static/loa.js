/* Loa báo tiền: shows and speaks each payment to the stall once, on old Android Chrome too (ES5). */
(function () {
  "use strict";

  // A helper's link carries the code after "#": never sent to the server, typed in for them.
  var form = document.getElementById("watch-form");
  if (form && location.hash.length > 1) {
    document.getElementById("code").value = decodeURIComponent(location.hash.slice(1));
    if (history.replaceState) { history.replaceState(null, "", location.pathname); }
    form.submit();
    return;
  }

  var root = document.getElementById("loa");
  if (!root) { return; }
  var d = root.getAttribute.bind ? function (k) { return root.getAttribute("data-" + k); } : null;
  var last = parseInt(d("last"), 10) || 0;
  var pending = d("pending");
  var storeKey = "loa:" + d("stall") + ":" + d("day");
  var announced = {};
  try { announced = JSON.parse(localStorage.getItem(storeKey) || "{}"); } catch (e) { announced = {}; }
  var items = document.querySelectorAll("#loa-list li");
  for (var i = 0; i < items.length; i++) { announced[items[i].getAttribute("data-id")] = 1; }
  save();

  var state = document.getElementById("loa-state");
  var voice = null, audio = null, on = false, lock = null, source = null, retry = null, position = "";

  function save() {
    try { localStorage.setItem(storeKey, JSON.stringify(announced)); } catch (e) { /* private mode */ }
  }
  function money(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, d("sep") || "."); }
  function text(id, value) { document.getElementById(id).textContent = value; }

  function pickVoice() {
    if (!window.speechSynthesis) { return null; }
    var voices = window.speechSynthesis.getVoices() || [];
    for (var j = 0; j < voices.length; j++) {
      if ((voices[j].lang || "").toLowerCase().replace("_", "-").indexOf("vi") === 0) { return voices[j]; }
    }
    return null;
  }
  if (window.speechSynthesis) {
    voice = pickVoice();
    window.speechSynthesis.onvoiceschanged = function () { voice = pickVoice(); };
  }

  function chime(times) {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    audio = audio || new Ctx();
    var t = audio.currentTime;
    for (var k = 0; k < times; k++) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = k % 2 ? 1320 : 880;
      gain.gain.setValueAtTime(0.3, t + k * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.001, t + k * 0.25 + 0.22);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(t + k * 0.25); osc.stop(t + k * 0.25 + 0.24);
    }
  }

  function speak(words, verdict) {
    if (voice && window.speechSynthesis) {
      var u = new SpeechSynthesisUtterance(words);
      u.lang = "vi-VN"; u.voice = voice; u.rate = 0.9;
      window.speechSynthesis.speak(u);
    } else {
      chime(verdict === "short" ? 4 : 2);  // no Vietnamese voice: a chime, the big digits say the rest
    }
  }

  function wake() {
    if (navigator.wakeLock && document.visibilityState === "visible") {
      navigator.wakeLock.request("screen").then(function (l) { lock = l; }, function () { lock = null; });
    }
  }
  document.addEventListener("visibilitychange", function () { if (on) { wake(); } });

  document.getElementById("loa-on").addEventListener("click", function () {
    on = true;
    voice = pickVoice();
    chime(1);
    wake();
    this.hidden = true;
    state.textContent = voice ? d("l-live") : d("l-novoice");
  });

  function show(e) {
    text("loa-amount", money(e.amount));
    text("loa-text", e.text);
    var verdict = document.getElementById("loa-verdict");
    if (e.requested) {
      verdict.hidden = false;
      verdict.className = "loa-verdict " + e.verdict;
      verdict.textContent = e.verdict === "short" ? d("l-short") + " " + money(e.shortfall) + " đ"
        : e.verdict === "over" ? d("l-over") : d("l-full");
    } else {
      verdict.hidden = true;
    }
    var total = document.getElementById("loa-total");
    var sum = (parseInt(total.getAttribute("data-total"), 10) || 0) + e.amount;
    total.setAttribute("data-total", sum);
    total.textContent = money(sum);
    var count = document.getElementById("loa-count");
    count.textContent = (parseInt(count.textContent, 10) || 0) + 1;
    var li = document.createElement("li");
    li.setAttribute("data-id", e.id);
    var b = document.createElement("button");
    b.type = "button"; b.className = "loa-item";
    b.innerHTML = '<span class="t"></span> <span class="a"></span> <span class="c" hidden></span>';
    b.childNodes[0].textContent = e.time.slice(0, 5);
    b.childNodes[2].textContent = money(e.amount) + " đ";
    b.childNodes[4].textContent = e.time + " · " + money(e.amount) + " đ · " + (e.content || "—");
    li.appendChild(b);
    var list = document.getElementById("loa-list");
    list.insertBefore(li, list.firstChild);
  }

  function handle(raw) {
    var e;
    try { e = JSON.parse(raw); } catch (x) { return; }
    if (e.id > last) { last = e.id; }
    if (announced[e.id]) { return; }  // once per transfer, whatever reconnects or retries happened
    announced[e.id] = 1;
    save();
    if (e.at && e.at.slice(0, 10) !== d("day")) { return; }
    show(e);
    if (on) { speak(e.text, e.verdict); }
  }

  function connect() {
    if (!window.EventSource) { state.textContent = d("l-offline"); return; }
    // "after" is where a new connection starts; an open one resumes by itself with Last-Event-ID
    // (the highest id and the lower ids received lately), which the server replays from.
    source = new EventSource(d("stream") + "?after=" + encodeURIComponent(position || String(last)));
    source.addEventListener("payment", function (m) {
      if (m.lastEventId) { position = m.lastEventId; }
      handle(m.data);
    });
    source.addEventListener("revoked", function () { source.close(); location.reload(); });
    source.onopen = function () { if (on) { state.textContent = voice ? d("l-live") : d("l-novoice"); } root.className = "loa live"; };
    source.onerror = function () {
      root.className = "loa offline";
      state.textContent = d("l-offline");
      if (source.readyState === 2) {  // closed for good (server restart, 5xx): start again from the last id
        clearTimeout(retry);
        retry = setTimeout(connect, 1000 + Math.floor(Math.random() * 1000));  // spread after a restart
      }
    };
  }
  connect();

  document.getElementById("loa-list").addEventListener("click", function (ev) {
    var node = ev.target;
    while (node && node.className !== "loa-item") { node = node.parentNode; }
    if (node) { var c = node.querySelector(".c"); c.hidden = !c.hidden; }
  });
  if (pending) { text("loa-text", ""); }
}());
