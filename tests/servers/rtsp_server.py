"""A real RTSP server for the tests: GStreamer's gst-rtsp-server serving live H.264.

Runs under Debian's /usr/bin/python3 (where the GStreamer bindings live), started by the
test fixtures. Usage: rtsp_server.py PORT WIDTHxHEIGHT FPS MOUNT [MOUNT ...]
Prints "ready" once it listens. Each mount serves a live test pattern with the running
time drawn on it, without B-frames except on mounts named /bframes…. Then, for the tests
that count readers, one line per client event:
"play CLIENT MOUNT" when a client starts playing, "closed CLIENT" when it goes away.
"""

import itertools
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def pipeline(width: int, height: int, fps: int, bframes: bool) -> str:
    # Without zerolatency x264 may use B-frames: two between references, never referenced.
    # (x264's ultrafast preset turns B-frames off, superfast keeps them; the payloader
    # would negotiate the baseline profile, which has none.)
    encoder = (
        "speed-preset=superfast bframes=2 b-adapt=false b-pyramid=false"
        if bframes
        else "speed-preset=ultrafast tune=zerolatency bframes=0"
    )
    caps = "! video/x-h264,profile=main " if bframes else ""
    return (
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},"
        f"framerate={fps}/1 ! timeoverlay ! x264enc {encoder} key-int-max={fps} threads=1 "
        f"{caps}! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def report(line: str) -> None:
    print(line, flush=True)


CLIENT_NUMBERS = itertools.count(1)


def watch_client(server: object, client: GstRtspServer.RTSPClient) -> None:
    name = f"c{next(CLIENT_NUMBERS)}"
    client.connect("play-request", lambda _, ctx: report(f"play {name} {ctx.uri.abspath}"))
    client.connect("closed", lambda _: report(f"closed {name}"))


def main() -> None:
    port, size, fps, mounts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    width, height = (int(part) for part in size.split("x"))
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    for mount in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(pipeline(width, height, fps, mount.startswith("/bframes")))
        factory.set_shared(True)
        server.get_mount_points().add_factory(mount, factory)
    server.connect("client-connected", watch_client)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
