// Touch scrolling for xterm.js terminals (the terminal page and a share link's view).

// A swipe on the terminal scrolls its scrollback, a row per row's height moved.
export function touchScroll(host, term) {
  let lastY = null;
  let lastX = 0;
  let rest = 0;
  const rowHeight = () => {
    const rows = host.querySelector(".xterm-rows");
    return rows && term.rows ? rows.getBoundingClientRect().height / term.rows : 16;
  };
  const start = (e) => { if (e.touches.length === 1) { lastY = e.touches[0].clientY; lastX = e.touches[0].clientX; rest = 0; } };
  const move = (e) => {
    if (lastY === null || e.touches.length !== 1) return;
    const y = e.touches[0].clientY;
    const x = e.touches[0].clientX;
    // A sideways swipe is the browser's (a terminal wider than the screen pans).
    if (Math.abs(x - lastX) > Math.abs(y - lastY)) { lastX = x; lastY = y; return; }
    rest += lastY - y;
    lastY = y;
    lastX = x;
    const h = rowHeight();
    const lines = Math.trunc(rest / h);
    if (lines) { term.scrollLines(lines); rest -= lines * h; }
    e.preventDefault();
    e.stopPropagation();
  };
  const end = () => { lastY = null; };
  host.addEventListener("touchstart", start, { capture: true, passive: true });
  host.addEventListener("touchmove", move, { capture: true, passive: false });
  host.addEventListener("touchend", end, { capture: true, passive: true });
  return () => {
    host.removeEventListener("touchstart", start, { capture: true });
    host.removeEventListener("touchmove", move, { capture: true });
    host.removeEventListener("touchend", end, { capture: true });
  };
}
