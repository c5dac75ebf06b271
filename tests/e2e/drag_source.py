#!/usr/bin/python3
"""A drag source for the end-to-end tests.

Shows a small GTK 3 window at X Y that offers the files named on the command line as
text/uri-list, the way a file manager does, so that xdotool can press on it, move onto the
app and release: a real X11 (XDND) file drop, through GTK, wry and Tauri, into the page.

    /usr/bin/python3 drag_source.py X Y FILE...

Prints "ready" once the window is on screen, and "drag-end" / "drag-failed REASON" after a
drag. Exits when killed (or its window is closed).
"""

import sys

import gi

# Pin both: GTK 4 may be installed too, and importing Gdk first would load Gdk 4.
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gio, GLib, Gtk  # noqa: E402

TITLE = "e2e drag source"


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    x, y = int(sys.argv[1]), int(sys.argv[2])
    uris = [Gio.File.new_for_path(p).get_uri() for p in sys.argv[3:]]

    window = Gtk.Window(title=TITLE)
    window.set_default_size(200, 120)
    window.move(x, y)
    window.connect("destroy", Gtk.main_quit)

    # An EventBox rather than a button: a button would take the press as a click.
    source = Gtk.EventBox()
    source.add(Gtk.Label(label="drag %d file(s)" % len(uris)))
    source.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
    source.drag_source_add_uri_targets()

    def on_get(_widget, _context, data, _info, _time):
        data.set_uris(uris)

    def on_end(*_args):
        print("drag-end", flush=True)

    def on_failed(_widget, _context, result):
        print("drag-failed %s" % result.value_nick, flush=True)
        return False

    source.connect("drag-data-get", on_get)
    source.connect("drag-end", on_end)
    source.connect("drag-failed", on_failed)
    window.add(source)

    def on_map(*_args):
        # Tell the test once the window can take input.
        GLib.idle_add(lambda: print("ready", flush=True) and False)

    window.connect("map-event", on_map)
    window.show_all()
    Gtk.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
