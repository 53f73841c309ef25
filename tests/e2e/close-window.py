#!/usr/bin/python3
"""Asks an X window to close the way a window manager's close button does:
a WM_DELETE_WINDOW client message (the app may refuse, e.g. to hide instead).
Usage: close-window.py TITLE            ask it to close
       close-window.py --state TITLE    print "viewable" or "hidden"
(DISPLAY selects the X server)."""
import sys

from Xlib import X, display, protocol


def find(d, win, title):
    try:
        name = win.get_wm_name()
    except Exception:
        name = None
    if name == title:
        return win
    for child in win.query_tree().children:
        found = find(d, child, title)
        if found is not None:
            return found
    return None


def main():
    state = sys.argv[1] == "--state"
    title = sys.argv[-1]
    d = display.Display()
    win = find(d, d.screen().root, title)
    if win is None:
        print(f"no window titled {title!r}", file=sys.stderr)
        return 1
    if state:
        viewable = win.get_attributes().map_state == X.IsViewable
        print("viewable" if viewable else "hidden")
        return 0
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    event = protocol.event.ClientMessage(
        window=win, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
    )
    win.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
