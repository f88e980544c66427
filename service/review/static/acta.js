// The acta screen: keyboard-first review of the flagged fields, rules recomputed as the reviewer types.
// Enter confirms the reading (empty box) or sends the digits typed; "-" sends blank; "s" skips.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("acta-data").textContent);
  const csrf = document.querySelector("meta[name=csrf-token]").content;

  // --- the scan: zoom and rotate (CSSOM, which the page's CSP allows) ---
  const img = document.getElementById("scan");
  let zoom = 1, rotation = 0;
  function view() {
    img.style.width = (zoom * 100) + "%";
    img.style.transform = "rotate(" + rotation + "deg)";
  }
  function act(name) {
    if (name === "zoom-in") zoom = Math.min(zoom * 1.25, 8);
    if (name === "zoom-out") zoom = Math.max(zoom / 1.25, 0.25);
    if (name === "rotate") rotation = (rotation + 90) % 360;
    if (name === "reset") { zoom = 1; rotation = 0; }
    view();
  }
  document.querySelectorAll(".tools button").forEach(function (b) {
    b.addEventListener("click", function () { act(b.dataset.act); refocus(); });
  });

  // --- values and rules ---
  const values = {};
  const machine = {};
  data.fields.forEach(function (f) { values[f.name] = f.value; machine[f.name] = f.machine; });
  const ruleItems = Array.from(document.querySelectorAll("#rules li.rule"));
  const items = Array.from(document.querySelectorAll("#flagged li.field"));
  let current = -1;
  let startedAt = 0;
  const pageStart = performance.now();

  function typedValue() {
    if (current < 0) return undefined;
    const input = items[current].querySelector("input.value");
    if (!input || input.value === "") return undefined;
    return parseInt(input.value, 10);
  }
  function recompute() {
    const vals = Object.assign({}, values);
    const t = typedValue();
    if (t !== undefined) vals[items[current].dataset.field] = t;
    data.rules.forEach(function (rule, i) {
      const li = ruleItems[i];
      if (!li) return;
      const sum = function (keys) { return keys.reduce(function (s, k) { return s + (vals[k] || 0); }, 0); };
      const right = sum(rule.right);
      // A bound "each" holds for every left field on its own: show the largest of them.
      const left = rule.each ? Math.max.apply(null, rule.left.map(function (k) { return vals[k] || 0; })) : sum(rule.left);
      const ok = rule.op === "<=" ? left <= right : left === right;
      li.querySelector(".left").textContent = left;
      li.querySelector(".right").textContent = right;
      li.querySelector(".op").textContent = ok ? (rule.op === "<=" ? "≤" : "=") : (rule.op === "<=" ? ">" : "≠");
      li.classList.toggle("ok", ok);
      li.classList.toggle("broken", !ok);
    });
  }

  function handled(i) { return items[i].dataset.state === "done" || items[i].dataset.state === "skipped"; }
  function nextIndex(from) {
    for (let j = from + 1; j < items.length; j++) if (!handled(j)) return j;
    return -1;
  }
  function focusField(i) {
    current = i;
    items.forEach(function (li, j) { li.classList.toggle("current", j === i); });
    const input = items[i].querySelector("input.value");
    input.disabled = false;
    input.focus();
    items[i].scrollIntoView({ block: "nearest" });
    startedAt = performance.now();
    recompute();
  }
  function refocus() {
    if (current >= 0) items[current].querySelector("input.value").focus();
  }
  function advance() {
    const j = nextIndex(current);
    if (j >= 0) { focusField(j); return; }
    current = -1;
    recompute();
    window.location.href = "/review/next?after=" + encodeURIComponent(data.acta);  // the next acta
  }
  function show(li, text, cls) {
    const out = li.querySelector(".outcome");
    out.textContent = text;
    out.className = "outcome " + (cls || "");
  }
  function fmt(v) { return v === null ? "en blanco" : String(v); }

  function updateTable(fields) {
    fields.forEach(function (s) {
      values[s.field] = s.value;
      const row = document.querySelector('#values tr[data-field="' + s.field + '"]');
      if (!row) return;
      row.querySelector(".current").textContent = s.value === null ? "—" : s.value;
      row.querySelector(".reviewed").textContent = s.reviewed ? "sí" : "";
      row.classList.toggle("waiting", s.waiting_review);
    });
  }

  // One review POST (the API's body); resolves to the status and the JSON answer.
  function postReview(body) {
    return fetch("/review/actas/" + data.acta + "/review", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (j) { return { status: r.status, body: j }; });
    });
  }

  function submit(value) {
    const li = items[current];
    const name = li.dataset.field;
    const input = li.querySelector("input.value");
    const seconds = Math.round((performance.now() - startedAt) / 100) / 10;
    input.disabled = true;
    const body = { fields: [{ field: name, value: value, seconds: seconds }], version: data.version };
    postReview(body).then(function (res) {
      if (res.status !== 200) {
        show(li, res.body.detail || "error " + res.status, "bad");
        if (res.body.code === "stale_version") { window.location.reload(); return; }
        input.disabled = false;
        input.focus();
        return;
      }
      data.version = res.body.version;
      updateTable(res.body.fields);
      li.dataset.state = "done";
      li.classList.add("done");
      show(li, value === machine[name] ? "✓ confirmado " + fmt(value) : "✎ corregido → " + fmt(value), "good");
      // A correction can break a rule and put fields in doubt that this screen did not list: show them.
      const listed = new Set(items.map(function (x) { return x.dataset.field; }));
      if (res.body.fields.some(function (s) { return s.waiting_review && !listed.has(s.field); })) {
        window.location.reload();
        return;
      }
      advance();
    }).catch(function () {
      show(li, "sin conexión: intente de nuevo", "bad");
      input.disabled = false;
      input.focus();
    });
  }

  items.forEach(function (li, i) {
    const input = li.querySelector("input.value");
    if (!input) return;
    input.addEventListener("focus", function () { if (current !== i && !handled(i)) focusField(i); });
    input.addEventListener("input", function () {
      input.value = input.value.replace(/[^0-9]/g, "");
      recompute();
    });
    input.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key;
      if (k === "Enter") {
        e.preventDefault();
        submit(input.value === "" ? machine[li.dataset.field] : parseInt(input.value, 10));
      } else if (k === "-") {
        e.preventDefault();
        submit(null);
      } else if (k === "s" || k === "S") {
        e.preventDefault();
        li.dataset.state = "skipped";
        li.classList.add("skipped");
        show(li, "saltado", "");
        advance();
      } else if (k === "z" || k === "x" || k === "r") {
        e.preventDefault();
        act({ z: "zoom-in", x: "zoom-out", r: "rotate" }[k]);
      } else if (k.length === 1 && !/[0-9]/.test(k)) {
        e.preventDefault();  // only digits go into the box
      }
    });
  });

  // --- a written note that changes nothing: its reader confirms every field it alone flagged, at once ---
  const noteConfirm = document.getElementById("note-confirm");
  if (noteConfirm) {
    noteConfirm.addEventListener("click", function () {
      const only = new Set(data.fields.filter(function (f) { return f.noteOnly && f.waiting; }).map(function (f) { return f.name; }));
      const pending = items.filter(function (li, i) { return only.has(li.dataset.field) && !handled(i); });
      if (!pending.length) return;
      const seconds = Math.round((performance.now() - pageStart) / 100) / 10 / pending.length;
      const body = {
        fields: pending.map(function (li) { return { field: li.dataset.field, value: machine[li.dataset.field], seconds: seconds }; }),
        version: data.version,
        note: "observaciones leídas: no cambian los valores leídos",
      };
      noteConfirm.disabled = true;
      postReview(body).then(function (res) {
        if (res.status !== 200) {
          document.getElementById("note-outcome").textContent = res.body.detail || "error " + res.status;
          noteConfirm.disabled = false;
          return;
        }
        window.location.reload();  // what is left waiting (other reasons, rules), or the acta reviewed
      }).catch(function () {
        document.getElementById("note-outcome").textContent = "sin conexión: intente de nuevo";
        noteConfirm.disabled = false;
      });
    });
  }

  if (data.canReview && items.length && items[0].querySelector("input.value")) focusField(0);
  else recompute();
})();
