// The resident's unsent report, kept on this phone in IndexedDB (the only browser storage that
// holds a photo) until it is sent or discarded. Nothing here talks to the server.
//
// window.saferStreetsDrafts:
//   load()           -> Promise of the draft (its photo, a Blob, as draft.photo), or null
//   save(draft)      -> Promise, once the draft's fields are stored (draft.photo is not)
//   savePhoto(photo) -> Promise, once the photo ({blob, name, type}, or null) is stored: kept
//                       apart so that typing does not write a photo of megabytes again
//   remove()         -> Promise, once the draft and its photo are deleted
//   clear()          -> Promise, once the whole database is gone (the quick exit's way out)
//
// Every call opens the database and closes it again, so that clear() from the quick exit is
// never kept waiting by another open connection on the page.
(function () {
  "use strict";
  var NAME = "safer-streets-drafts";
  var STORE = "drafts";
  var KEY = "report";
  var PHOTO_KEY = "report-photo";

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function open() {
    var req = indexedDB.open(NAME, 1);
    req.onupgradeneeded = function () { req.result.createObjectStore(STORE); };
    return request(req);
  }
  // Run one operation in its own transaction; resolves with its result once committed.
  function run(mode, operation) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var req = operation(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(req.result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  var drafts = {
    load: function () {
      return run("readonly", function (store) { return store.get(KEY); })
        .then(function (draft) {
          if (!draft) { return null; }
          return run("readonly", function (store) { return store.get(PHOTO_KEY); })
            .then(function (photo) { draft.photo = photo || null; return draft; });
        });
    },
    save: function (draft) {
      var fields = {};
      Object.keys(draft).forEach(function (name) {
        if (name !== "photo") { fields[name] = draft[name]; }
      });
      return run("readwrite", function (store) { return store.put(fields, KEY); });
    },
    savePhoto: function (photo) {
      return run("readwrite", function (store) {
        return photo ? store.put(photo, PHOTO_KEY) : store.delete(PHOTO_KEY);
      });
    },
    remove: function () {
      return run("readwrite", function (store) {
        store.delete(PHOTO_KEY);
        return store.delete(KEY);
      });
    },
    clear: function () {
      return request(indexedDB.deleteDatabase(NAME));
    }
  };
  if (!window.indexedDB) { return; }
  window.saferStreetsDrafts = drafts;

  // The page after a successful send (the confirmation, or "your voice has been added") forgets
  // the draft that was just sent: only straight after the form's own POST (a redirect), so
  // reopening an old confirmation never deletes a newer draft.
  var sent = document.querySelector("[data-draft-sent]");
  var navigation = window.performance && performance.getEntriesByType &&
    performance.getEntriesByType("navigation")[0];
  if (sent && navigation && navigation.redirectCount > 0) {
    drafts.load().then(function (draft) {
      if (draft && draft.state === "sending" && Date.now() - draft.sentAt < 30 * 60 * 1000) {
        return drafts.remove();
      }
      return null;
    }).catch(function () { /* storage unavailable: nothing was kept */ });
  }
}());
