// Chats follow their newest message, unless the reader has scrolled up.
// Any element marked `data-autoscroll` (a Radix scroll area or a plain box) is
// watched: while its view is at the bottom, new content scrolls it down; once
// the reader scrolls up, it stays put until they scroll back to the bottom.
(function () {
  if (window.__voxieAutoscroll) return;
  window.__voxieAutoscroll = true;
  var NEAR = 48; // px from the bottom that still counts as "at the bottom"

  function viewportOf(root) {
    return root.querySelector("[data-radix-scroll-area-viewport]") || root;
  }

  function attach(root) {
    var view = viewportOf(root);
    if (view.__voxieFollow !== undefined) return;
    view.__voxieFollow = true;
    view.addEventListener(
      "scroll",
      function () {
        view.__voxieFollow = view.scrollHeight - view.scrollTop - view.clientHeight <= NEAR;
      },
      { passive: true }
    );
    var follow = function () {
      if (view.__voxieFollow) view.scrollTop = view.scrollHeight;
    };
    new MutationObserver(follow).observe(view, {
      childList: true,
      subtree: true,
      characterData: true,
    });
    follow();
  }

  function scan() {
    document.querySelectorAll("[data-autoscroll]").forEach(attach);
  }

  function start() {
    scan();
    new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
