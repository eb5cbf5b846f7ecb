// The report form's draft, kept on this phone (drafts.js) as the resident types, restored when
// the form opens again, and sent only when the resident presses a button. With no signal the
// form says so and keeps the draft; back online it offers "Send it now". Sending is the form's
// own POST, with a fresh CSRF token, so the server checks everything as it always does.
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var configNode = document.getElementById("report-config");
  if (!form || !configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var text = config.text;

  // The form opens with no signal: the worker keeps this page and its files (report-worker.js).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.worker.url, { scope: config.worker.scope })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        var files = performance.getEntriesByType("resource").map(function (entry) {
          return entry.name;
        }).filter(function (url) {
          return new URL(url).origin === location.origin && url.indexOf(config.staticUrl) !== -1;
        });
        registration.active.postMessage({ keep: { files: files } });
      })
      .catch(function () { /* no worker: the form still works online */ });
  }

  var drafts = window.saferStreetsDrafts;
  if (!drafts || !window.fetch || !window.DOMParser) { return; }

  var NOT_KEPT = ["csrf_token", "submission_id", "nearby_checked"];
  var photoInput = document.getElementById("photo");
  var notice = document.getElementById("draft-notice");
  var message = document.getElementById("draft-message");
  var sendButton = document.getElementById("draft-send");
  var discardButton = document.getElementById("draft-discard");
  var draft = { state: "editing" };
  var restoring = true;
  var busy = false;

  // ---- what the form holds ----------------------------------------------------------------
  function fields() {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (NOT_KEPT.indexOf(name) === -1 && typeof value === "string") { pairs.push([name, value]); }
    });
    return pairs;
  }
  function restoreFields(pairs) {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || NOT_KEPT.indexOf(field.name) !== -1 || field.type === "file" ||
          field.tagName === "BUTTON") { return; }
      var values = pairs.filter(function (pair) { return pair[0] === field.name; })
        .map(function (pair) { return pair[1]; });
      if (field.type === "radio" || field.type === "checkbox") {
        field.checked = values.indexOf(field.value) !== -1;
      } else {
        field.value = values.length ? values[0] : "";
      }
    });
  }
  function restorePhoto(photo) {
    if (!photo || !photoInput || !window.DataTransfer) { return; }
    try {
      var transfer = new DataTransfer();
      transfer.items.add(new File([photo.blob], photo.name, { type: photo.type }));
      photoInput.files = transfer.files;
    } catch (error) { /* this browser cannot fill a file field: the photo stays in the draft */ }
  }

  function store() {
    draft.savedAt = Date.now();
    draft.fields = fields();
    return drafts.save(draft);
  }
  var saveTimer = null;
  function saveSoon() {
    if (restoring) { return; }
    clearTimeout(saveTimer);
    saveTimer = setTimeout(function () { store().catch(ignore); }, 300);
  }
  function saveNow() {
    clearTimeout(saveTimer);
    return store();
  }
  form.addEventListener("input", saveSoon);
  form.addEventListener("change", saveSoon);
  form.addEventListener("reportchange", saveSoon);
  if (photoInput) {
    // report.js has already emptied the field if the photo is too large.
    photoInput.addEventListener("change", function () {
      var file = photoInput.files && photoInput.files[0];
      drafts.savePhoto(file ? { blob: file, name: file.name, type: file.type } : null)
        .catch(ignore);
    });
  }

  // ---- what the resident is told -----------------------------------------------------------
  function say(words, options) {
    options = options || {};
    message.textContent = "";
    var parts = words.split("%(time)s");
    message.appendChild(document.createTextNode(parts[0]));
    if (parts.length > 1) {
      var when = new Date(options.time);
      var time = document.createElement("time");
      time.dateTime = when.toISOString();
      // As every resident page writes dates: "4 December 2026 at 12:45" in English, UK style.
      var language = document.documentElement.lang || "en";
      time.textContent = when.toLocaleString(/^en\b/.test(language) ? "en-GB" : language, {
        day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit",
        hour12: false
      });
      message.appendChild(time);
      message.appendChild(document.createTextNode(parts[1]));
    }
    sendButton.hidden = !options.send;
    discardButton.hidden = !options.discard;
    notice.hidden = false;
    if (options.focus) { notice.focus(); }
  }
  function offerToSend() {
    if (draft.state !== "waiting") { return; }
    if (navigator.onLine) {
      say(text.draftNotSent, { time: draft.savedAt, send: true, discard: true });
    } else {
      say(text.noSignal, { discard: true });
    }
  }
  window.addEventListener("online", function () {
    if (draft.state === "waiting") {
      say(text.backOnline, { send: true, discard: true, focus: true });
    }
  });
  window.addEventListener("offline", offerToSend);

  // ---- sending: only when the resident presses Send ----------------------------------------
  var OFFLINE = new Error("no signal");
  function ignore() { /* storage unavailable: the form still sends as it always has */ }
  function noSignal() {
    busy = false;
    sendButton.disabled = false;
    draft.state = "waiting";
    store().then(function () {
      say(text.noSignal, { discard: true, focus: true });
    }, function () {
      say(text.noSignalNotKept, { focus: true });
    });
  }
  function submitForm() {
    // The form's own POST: the browser shows the server's answer (the confirmation, or what to
    // correct), and the confirmation page deletes the draft (drafts.js).
    HTMLFormElement.prototype.submit.call(form);
  }
  function send() {
    if (busy) { return; }
    busy = true;
    sendButton.disabled = true;
    saveNow().catch(ignore)
      .then(function () {
        if (!navigator.onLine) { throw OFFLINE; }
        // A fresh page for a fresh CSRF token (the form may have opened from the phone's copy,
        // hours ago); its failing is the surest sign that there is no signal.
        return fetch(config.formUrl, {
          cache: "no-store", credentials: "same-origin", headers: { Accept: "text/html" }
        }).then(function (response) {
          return response.ok ? response.text() : null;
        }).catch(function () { throw OFFLINE; });
      })
      .then(function (html) {
        if (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var token = fresh.querySelector("#report-form input[name='csrf_token']");
          var id = fresh.querySelector("#report-form input[name='submission_id']");
          if (token) { form.elements.csrf_token.value = token.value; }
          // One id for the draft's whole life: sent twice, it still makes one report.
          if (!draft.submissionId && id) { draft.submissionId = id.value; }
        }
        if (draft.submissionId) { form.elements.submission_id.value = draft.submissionId; }
        draft.state = "sending";
        draft.sentAt = Date.now();
        return saveNow().catch(ignore);
      })
      .then(submitForm, function (error) {
        if (error === OFFLINE) { noSignal(); } else { submitForm(); }
      });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });
  sendButton.addEventListener("click", send);
  // "Add my voice" instead of a new report: once the voice is added, the draft has done its job
  // and the next page deletes it, as the confirmation does.
  var supportForm = document.getElementById("support-form");
  if (supportForm) {
    supportForm.addEventListener("submit", function () {
      draft.state = "sending";
      draft.sentAt = Date.now();
      store().catch(ignore);
    });
  }
  // An empty form again, as the page first came, with nothing kept.
  function startAfresh() {
    restoring = true;
    draft = { state: "editing" };
    form.reset();
    form.dispatchEvent(new Event("draftrestored"));
    restoring = false;
    notice.hidden = true;
  }
  discardButton.addEventListener("click", function () {
    drafts.remove().catch(ignore).then(function () {
      startAfresh();
      say(text.draftDiscarded, {});
      notice.focus();
    });
  });

  // Back to the form after pressing Send (the Back button): offer it again, unless it was sent
  // meanwhile (the confirmation deleted it), when the page must not hold on to it either.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    busy = false;
    sendButton.disabled = false;
    if (draft.state !== "sending") { return; }
    drafts.load().then(function (kept) {
      if (!kept) { startAfresh(); return; }
      draft.state = "waiting";
      store().catch(ignore);
      offerToSend();
    }).catch(ignore);
  });

  // ---- opening the form: restore what was kept ---------------------------------------------
  var answeredByServer = Boolean(document.getElementById("error-summary"));
  drafts.load()
    .then(function (kept) {
      if (!kept) {
        // Back to the form with nothing kept: it was sent or discarded since, so what the
        // browser put back into the fields from its history must not show again.
        var navigation = performance.getEntriesByType("navigation")[0];
        if (navigation && navigation.type === "back_forward") { startAfresh(); }
        return null;
      }
      draft = kept;
      var photo = kept.photo;
      delete draft.photo;
      if (answeredByServer) {
        // The server has just answered this draft with what to correct: the page shows what
        // was sent, and the draft follows it from here.
        draft.state = "editing";
        if (!document.getElementById("photo-kept")) { restorePhoto(photo); }
        return store();
      }
      // Pressed Send, and never reached the confirmation: offer it again.
      if (draft.state === "sending") { draft.state = "waiting"; }
      restoreFields(draft.fields || []);
      restorePhoto(photo);
      form.dispatchEvent(new Event("draftrestored"));
      var description = document.getElementById("description");
      if (description) { description.dispatchEvent(new Event("input")); }
      if (draft.state === "waiting") {
        offerToSend();
      } else {
        say(text.draftRestored, { time: draft.savedAt, discard: true });
      }
      return null;
    })
    .catch(function () { /* storage unavailable: the form works as before */ })
    .then(function () { restoring = false; });
}());
