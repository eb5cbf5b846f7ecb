// The report form's service worker (served as /report-worker.js, scope /report): keeps a copy of
// the empty report form and the files it uses, so that the form opens with no signal. It keeps
// nothing else: tracking pages, confirmations and staff pages always come from the network, and
// a page the server marks no-store or private (anything shown to a signed-in user) is never kept.
// It never sends anything: a report leaves the phone only through the form's own POST.
"use strict";

var CACHE = "safer-streets-report-form-v1";
var FORM_PATH = new URL(self.registration.scope).pathname;
var STATIC_PATH = "/static/";

function keepable(response) {
  var control = response.headers.get("Cache-Control") || "";
  return response.ok && response.type === "basic" && !/no-store|private/.test(control);
}

// The page as the network gives it, a copy kept; with no network, the copy.
function formPage(request) {
  return fetch(request)
    .then(function (response) {
      if (keepable(response) && new URL(request.url).search === "") {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put(FORM_PATH, copy); });
      }
      return response;
    })
    .catch(function () {
      return caches.open(CACHE)
        .then(function (cache) { return cache.match(FORM_PATH); })
        .then(function (kept) { return kept || Response.error(); });
    });
}

// The form page, and the files it says it uses; anything kept from an older version is let go.
// Whatever the message says, only the form page itself and files under /static/ are kept.
function keep(files) {
  return caches.open(CACHE).then(function (cache) {
    var wanted = files.filter(function (url) {
      var parsed = new URL(url, self.location.origin);
      return parsed.origin === self.location.origin && parsed.pathname.indexOf(STATIC_PATH) === 0;
    });
    return cache.keys()
      .then(function (requests) {
        return Promise.all(requests.map(function (request) {
          var path = new URL(request.url).pathname;
          return path === FORM_PATH || wanted.indexOf(request.url) !== -1
            ? null : cache.delete(request);
        }));
      })
      .then(function () { return cache.match(FORM_PATH); })
      .then(function (kept) {
        if (kept) { return null; }
        return fetch(FORM_PATH, { credentials: "same-origin" }).then(function (response) {
          return keepable(response) ? cache.put(FORM_PATH, response) : null;
        });
      })
      .then(function () {
        // Files already in the browser's own cache (versioned, kept a year) cost nothing here.
        return Promise.all(wanted.map(function (url) {
          return cache.match(url).then(function (kept) {
            return kept ? null : fetch(url).then(function (response) {
              return keepable(response) ? cache.put(url, response) : null;
            });
          });
        }));
      });
  });
}

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys()
    .then(function (names) {
      return Promise.all(names.filter(function (name) { return name !== CACHE; })
        .map(function (name) { return caches.delete(name); }));
    })
    .then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (event.origin === self.location.origin && data.keep) {
    event.waitUntil(keep(data.keep.files || []).catch(function () {}));
  }
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname === FORM_PATH) {
    event.respondWith(formPage(request));
  } else if (request.mode !== "navigate" && url.pathname.indexOf(STATIC_PATH) === 0) {
    // Only files the form page asked to keep are answered from the copy; everything else
    // (the form page fetched for a fresh token, the place search) goes to the network.
    event.respondWith(caches.open(CACHE)
      .then(function (cache) { return cache.match(request); })
      .then(function (kept) { return kept || fetch(request); }));
  }
});
