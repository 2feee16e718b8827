/* Contact Routing settings: drag-to-reorder (the htmx "Sortable" example) and the
   rule editor's method-dependent fields. Everything also works without this file:
   Move up/down buttons reorder, and the editor shows every field with its help text. */
(function () {
  "use strict";

  function initSortable(list) {
    var sortable = new Sortable(list, {
      handle: ".drag-handle",
      draggable: ".rule-row",
      animation: 150,
      ghostClass: "rule-row-ghost",
      // No more drags until the server has answered with the saved order; its answer
      // replaces the whole list, which then gets a fresh Sortable.
      onEnd: function () {
        this.option("disabled", true);
      },
    });
    list.closest("form").addEventListener("htmx:afterRequest", function (evt) {
      if (!evt.detail.successful) sortable.option("disabled", false);
    });
  }

  function trackMethod(form) {
    var select = form.querySelector("select[name=method]");
    if (!select) return;
    function update() {
      form.setAttribute("data-method", select.value);
    }
    select.addEventListener("change", update);
    update();
  }

  // A rule with source buckets is a lead pool: its active toggle says so.
  function trackPool(form) {
    var boxes = form.querySelectorAll("input[name=source_buckets]");
    var label = form.querySelector("label[for=id_is_active]");
    if (!boxes.length || !label) return;
    function update() {
      var pool = Array.prototype.some.call(boxes, function (box) {
        return box.checked;
      });
      label.textContent = pool ? "Lead Pool is active" : "Rule is active";
    }
    boxes.forEach(function (box) {
      box.addEventListener("change", update);
    });
  }

  htmx.onLoad(function (content) {
    content.querySelectorAll("[data-sortable]").forEach(initSortable);
    content.querySelectorAll("form[data-rule-form]").forEach(trackMethod);
    content.querySelectorAll("form[data-rule-form]").forEach(trackPool);
  });

  // The list comes back as 400/409 with an error message when the server refuses an
  // order (say, a rule was added in another tab): show it rather than drop it.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var status = evt.detail.xhr.status;
    var target = evt.detail.target;
    if ((status === 400 || status === 409) && target && target.closest("[data-swap-errors]")) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
})();
